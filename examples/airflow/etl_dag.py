"""A nightly Airflow ETL task with Airlock as a native sidecar.

KubernetesPodOperator runs one pod per task run: the ETL container and, as
an init container with restartPolicy Always (Kubernetes >= 1.29), Airlock.
Kubernetes starts Airlock first and holds the task back until Airlock's
startup probe passes (`airlock wait`, which asks the admin /startup
endpoint: 200 once the credentials are held and the listeners are up). When
the task exits, Kubernetes stops Airlock, which revokes what it was given.

The task container gets no credential: it sources the file Airlock writes
into the shared in-memory volume (/var/run/airlock/env: PGHOST, PGPASSWORD =
the local token, AWS_ENDPOINT_URL, the local S3 key pair, the CA bundle).
The real credentials (bootstrap DSN, S3 base key, audit key) are Secrets
mounted into the Airlock container only.

Needs apache-airflow-providers-cncf-kubernetes and a kubernetes Python
client >= 29 (V1Container.restart_policy). Apply airlock-config.yaml (the
ConfigMap) in the pod's namespace first.
"""

import pendulum
from airflow import DAG
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import models as k8s

NAMESPACE = "etl"
AIRLOCK_IMAGE = "ghcr.io/airlockproxy/airlock:latest"  # pin a release digest in production
TASK_IMAGE = "registry.example.com/etl/nightly-sales:1.4.2"
AIRLOCK_UID = 65532  # the distroless image's nonroot user


def annotation(name, key):
    """An env var filled from a pod annotation through the downward API.

    Airflow renders Jinja in the operator's annotations (and env_vars) but
    not inside init containers, so per-run values reach Airlock this way.
    """
    return k8s.V1EnvVar(
        name=name,
        value_from=k8s.V1EnvVarSource(
            field_ref=k8s.V1ObjectFieldSelector(field_path=f"metadata.annotations['{key}']")
        ),
    )


volumes = [
    k8s.V1Volume(name="airlock-config", config_map=k8s.V1ConfigMapVolumeSource(name="nightly-sales-airlock")),
    # Where `airlock run` writes pg-token, aws-credentials, ca.pem,
    # ca-bundle.pem and env for the task: in memory, gone with the pod.
    k8s.V1Volume(name="airlock-local", empty_dir=k8s.V1EmptyDirVolumeSource(medium="Memory", size_limit="1Mi")),
    k8s.V1Volume(name="bootstrap", secret=k8s.V1SecretVolumeSource(secret_name="sales-db-bootstrap")),
    k8s.V1Volume(name="s3-base", secret=k8s.V1SecretVolumeSource(secret_name="lake-s3-base")),
    k8s.V1Volume(name="audit-key", secret=k8s.V1SecretVolumeSource(secret_name="airlock-audit-key")),
]

airlock = k8s.V1Container(
    name="airlock",
    image=AIRLOCK_IMAGE,
    restart_policy="Always",  # a native sidecar: runs beside the task, stopped after it
    args=["run", "-c", "/etc/airlock/airlock.yaml"],
    env=[
        annotation("AIRLOCK_TASK_ID", "airlock.io/task-id"),
        annotation("RUN_DATE", "airlock.io/run-date"),
    ],
    # The admin listener is loopback-only, and kubelet's httpGet probes come
    # from the node, so the probe runs `airlock wait` inside the pod: it asks
    # http://127.0.0.1:9901/startup and exits 0 on 200.
    startup_probe=k8s.V1Probe(
        _exec=k8s.V1ExecAction(command=["airlock", "wait", "--timeout", "2s"]),
        period_seconds=1,
        timeout_seconds=3,
        failure_threshold=120,
    ),
    volume_mounts=[
        k8s.V1VolumeMount(name="airlock-config", mount_path="/etc/airlock", read_only=True),
        k8s.V1VolumeMount(name="airlock-local", mount_path="/var/run/airlock"),
        k8s.V1VolumeMount(name="bootstrap", mount_path="/secrets/bootstrap", read_only=True),
        k8s.V1VolumeMount(name="s3-base", mount_path="/secrets/s3-base", read_only=True),
        k8s.V1VolumeMount(name="audit-key", mount_path="/secrets/audit", read_only=True),
    ],
    security_context=k8s.V1SecurityContext(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        capabilities=k8s.V1Capabilities(drop=["ALL"]),
    ),
    resources=k8s.V1ResourceRequirements(requests={"cpu": "100m", "memory": "64Mi"}, limits={"memory": "256Mi"}),
)

with DAG(
    dag_id="nightly_sales",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["etl", "airlock"],
) as dag:
    KubernetesPodOperator(
        task_id="load_orders",
        name="nightly-sales-load-orders",
        namespace=NAMESPACE,
        image=TASK_IMAGE,
        # The task reads its local-only settings from the file Airlock wrote
        # (the startup probe guarantees it is there), then runs unchanged:
        # libpq and boto3 pick up PG* and AWS_* by themselves.
        cmds=["sh", "-c", ". /var/run/airlock/env && exec python /app/etl.py"],
        env_vars=[k8s.V1EnvVar(name="RUN_DATE", value="{{ ds }}")],
        labels={"app.kubernetes.io/part-of": "nightly-sales", "airlock.io/sidecar": "true"},
        # Rendered per run; Airlock's env reads them (see annotation()).
        annotations={
            "airlock.io/task-id": "{{ dag.dag_id }}.{{ task.task_id }}.{{ run_id }}",
            "airlock.io/run-date": "{{ ds }}",
        },
        init_containers=[airlock],
        volumes=volumes,
        # The task sees the local dir read-only, and none of the Secrets.
        volume_mounts=[k8s.V1VolumeMount(name="airlock-local", mount_path="/var/run/airlock", read_only=True)],
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True, run_as_user=AIRLOCK_UID, run_as_group=AIRLOCK_UID, fs_group=AIRLOCK_UID
        ),
        # The task needs no Kubernetes API token (and should not hold one).
        automount_service_account_token=False,
        container_resources=k8s.V1ResourceRequirements(requests={"cpu": "500m", "memory": "1Gi"}),
        startup_timeout_seconds=300,
        get_logs=True,
        on_finish_action="delete_pod",
    )
