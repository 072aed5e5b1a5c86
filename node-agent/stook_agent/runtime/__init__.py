"""A level-triggered reconcile runtime over the official kubernetes client.

informer: list + watch (resume from resourceVersion, re-list on 410 Gone) into a local cache.
workqueue: de-duplicating queue, one worker per key, rate-limited exponential requeue.
controller: ties an informer, a queue and a Reconciler together; finalizers; resync.
conditions / events / metrics / health: status conditions, Kubernetes Events, Prometheus
metrics, /healthz and /readyz.
"""
