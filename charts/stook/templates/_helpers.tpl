{{/* Names and labels shared by the templates. */}}
{{- define "stook.fullname" -}}
{{- printf "%s-agent" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "stook.serviceAccountName" -}}
{{- default (include "stook.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "stook.selectorLabels" -}}
app.kubernetes.io/name: stook-agent
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "stook.labels" -}}
{{ include "stook.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: stook
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}
