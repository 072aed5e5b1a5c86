"""A level-triggered reconcile runtime over the official kubernetes client.

resource / kinds: how a resource is addressed (the runtime knows no Stook type).
client: JSON requests for any resource, each with a timeout. errors: one-line API errors.
informer: list + watch (resume from resourceVersion, re-list on 410 Gone) into a local cache.
workqueue: de-duplicating queue, one worker per key, rate-limited exponential requeue.
controller: ties an informer, a queue and a Reconciler together; finalizers; resync; rejections.
manager: owns the runnables, the health server and leader election (leader) for cluster
controllers. conditions / events / metrics / health / watchdog: status conditions, Kubernetes
Events, Prometheus metrics, /healthz and /readyz, stuck-reconcile detection.
"""
