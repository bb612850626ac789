"""`spk rehearse <stack> [--job NAME]`: run the jobs exactly as the stack renders them, against local stand-ins of
S3, IAM/STS, Glue and Kafka, and report per job what happened.

1. The stack is rendered offline; every bucket and object, the Glue databases and the job service accounts' IAM
   roles and policies the plan creates are created in a local AWS that enforces those policies
   (spk.rehearse_aws); the Kafka topics the jobs read are created on a local broker.
2. Each SparkApplication / ScheduledSparkApplication runs with `spark-submit` in local mode with exactly its
   rendered conf, environment, arguments and main file, as its service account's role (spk.rehearse_run);
   streaming jobs run two micro-batches on data the rehearsal publishes, then are stopped (SIGTERM).
3. The History Server starts with its rendered configuration and must list the rehearsed applications.
4. The report says per job pass/fail, the first error and its cause, what it read and wrote, its IAM denials."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Collection
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from contracts.jobs import JOBS
from contracts.lake import EXCHANGES
from spk.errors import SpkError
from spk.iam_access import s3_location
from spk.plan import Plan
from spk.rehearse_history import check_history_server
from spk.rehearse_jars import missing_artifact
from spk.rehearse_plan import Application, RehearsalPlan, rehearsal_plan
from spk.rehearse_report import (
    JobReport,
    StackReport,
    application_id,
    first_error,
    render,
    summarize_requests,
)
from spk.rehearse_run import Override, Submission, python_driver_pid, run, submission
from spk.rehearse_stage import LocalAws, SessionCredentials, TrustDenied

BATCH_TIMEOUT_SECONDS = 420
STREAMING_TIMEOUT_SECONDS = 900
#: Micro-batches a streaming job commits on the rehearsal's data before it is asked to stop.
MICRO_BATCHES = 2
RECORDS_PER_BATCH = 200


def job_order(applications: tuple[Application, ...]) -> list[Application]:
    """The pipeline's order (contracts/jobs.py: bronze, silver, gold, streaming, quality, maintenance), so each
    job finds what the earlier ones wrote, as it would after a day on the cluster."""
    rank = {name: index for index, name in enumerate(JOBS)}
    return sorted(applications, key=lambda a: (rank.get(a.name, len(rank)), a.name))


# -- data the rehearsal publishes ----------------------------------------------------------------------------


def publish_landing(aws: LocalAws, raw_uri: str, batch: int) -> int:
    """Generated trade files under the job environment's raw landing root (`<raw>/<exchange>/*.jsonl`), as the
    exchanges' collectors land them; returns the number of records."""
    from pipelines.generator import generate_trades

    bucket, key = s3_location(raw_uri)
    records = generate_trades(RECORDS_PER_BATCH, seed=100 + batch, first_trade_id=1_000_000 + batch * 10_000)
    s3 = aws.client("s3")
    for exchange in EXCHANGES:
        lines = "".join(r.line + "\n" for r in records.by_exchange(exchange))
        s3.put_object(Bucket=bucket, Key=f"{key}/{exchange}/rehearsal-{batch:04d}.jsonl", Body=lines.encode())
    return len(records.records)


def publish_kafka(kafka: Any, topics: dict[str, str], batch: int) -> int:
    from pipelines.generator import generate_trades

    records = generate_trades(RECORDS_PER_BATCH, seed=100 + batch, first_trade_id=1_000_000 + batch * 10_000)
    return int(kafka.publish({topics[exchange]: [r.line.encode() for r in records.by_exchange(exchange)]
                              for exchange in EXCHANGES}))


def commits(aws: LocalAws, checkpoint: str) -> int:
    """Micro-batches committed to a streaming checkpoint (`<checkpoint>/commits/<n>`)."""
    bucket, key = s3_location(checkpoint)
    try:
        listing = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{key}/commits/")
    except Exception:
        return 0
    return sum(1 for item in listing.get("Contents", []) if item["Key"].rsplit("/", 1)[-1].isdigit())


# -- causes --------------------------------------------------------------------------------------------------


def _buckets_outside(application: Application, plan: RehearsalPlan) -> list[str]:
    """s3 locations the job is configured with whose bucket the plan does not create."""
    values = [*application.env.values(), *[str(v) for v in (application.spec.get("sparkConf") or {}).values()]]
    outside = []
    for value in values:
        if value.startswith(("s3://", "s3a://")):
            bucket, _ = s3_location(value)
            if bucket not in plan.buckets and value not in outside:
                outside.append(value)
    return outside


def explain(job: JobReport, log_text: str, sub: Submission | None, application: Application,
            plan: RehearsalPlan) -> str | None:
    """The cause of a failed run, in the platform's terms."""
    outside = _buckets_outside(application, plan)
    if outside:
        return (f"{', '.join(outside)}: outside the platform's buckets (the plan creates "
                f"{', '.join(plan.buckets)})")
    if job.denials:
        return f"IAM denied {job.denials[0]} to role {job.role}"
    if sub is not None and sub.jars is not None:
        artifact = missing_artifact(log_text, sub.jars)
        if artifact is not None:
            return (f"{artifact.jar_name} ({artifact.coordinate}) is missing from the rendered spec.deps.jars: "
                    f"the job needs it and the image only puts listed jars on its classpath")
    event_log = str((application.spec.get("sparkConf") or {}).get("spark.eventLog.dir", ""))
    missing = ("does not exist", "No such file or directory", "FileNotFoundException")
    if event_log and any(words in log_text for words in missing) and event_log.rstrip("/") in log_text:
        bucket, key = s3_location(event_log)
        return (f"the event-log directory {event_log} does not exist: the plan creates no `{key}/` object in "
                f"{bucket}, and Spark refuses to start without it")
    return None


# -- one job -------------------------------------------------------------------------------------------------


def rehearse_job(application: Application, plan: RehearsalPlan, aws: LocalAws, work: Path,
                 kafka: Any | None) -> tuple[JobReport, list[Override]]:
    role = plan.role_of(application.namespace, application.service_account)
    report = JobReport(application.name, application.kind, role.name)
    if (application.spec.get("executor") or {}).get("gpu"):
        report.skipped = ("needs NVIDIA GPUs and the RAPIDS accelerator of the GPU image, which a local "
                          "rehearsal does not have")
        return report, []
    log = work / f"{application.name}.log"
    report.log = log
    try:
        credentials = aws.assume(role, application.namespace, application.service_account)
    except TrustDenied as denied:
        report.error = str(denied)
        report.cause = f"the job's service account cannot take its IAM role: {denied}"
        return report, []
    sub: Submission | None = None
    try:
        environment = application.environment
        sub = submission(application, endpoint=aws.endpoint, credentials=credentials,
                         kafka_bootstrap=kafka.bootstrap_servers if kafka else None, work_dir=work)
    except (SpkError, ValueError) as error:
        report.error = str(error)
        report.cause = str(error)
        return report, []
    report.jars = sub.jars.coordinates if sub.jars and sub.jars.artifacts else "none listed"
    driver = None
    if application.streaming:
        checkpoint = f"{environment.checkpoint_uri.rstrip('/')}/{application.name}"

        def publish(batch: int) -> None:
            if environment.source == "kafka" and kafka is not None:
                publish_kafka(kafka, environment.kafka_topics, batch)
            else:
                publish_landing(aws, environment.raw_uri, batch)

        driver = _streaming_driver(aws, checkpoint, publish)
    result = run(sub, log, timeout=STREAMING_TIMEOUT_SECONDS if application.streaming else BATCH_TIMEOUT_SECONDS,
                 driver=driver)
    report.seconds = result.seconds
    report.note = result.stopped
    read, wrote, denied = summarize_requests(r for r in aws.requests() if r["key"] == credentials.access_key)
    report.read, report.wrote, report.denials = read, wrote, denied
    log_text = log.read_text(errors="replace")
    report.application_id = application_id(log_text)
    report.passed = result.exit_code == 0 and not denied and not (
        application.streaming and not (result.stopped or "").startswith("stopped"))
    if not report.passed:
        report.error = first_error(log_text) or (
            f"spark-submit exited with status {result.exit_code}" if result.exit_code
            else "the job finished, but IAM refused some of its requests" if denied else result.stopped)
        report.cause = explain(report, log_text, sub, application, plan)
    return report, sub.overrides


def _streaming_driver(aws: LocalAws, checkpoint: str, publish: Any) -> Any:
    def drive(process: subprocess.Popen[bytes]) -> str | None:
        deadline = time.monotonic() + STREAMING_TIMEOUT_SECONDS - 60
        for batch in range(MICRO_BATCHES):
            publish(batch + 1)
            while commits(aws, checkpoint) <= batch:
                if process.poll() is not None:
                    return None  # it failed on its own: the log says why
                if time.monotonic() > deadline:
                    return f"no micro-batch {batch} committed within the time limit"
                time.sleep(2)
        pid = python_driver_pid(process)
        if pid is None:
            return "the Python driver was not found to stop"
        os.kill(pid, signal.SIGTERM)  # the job's own StopSignal: finish the micro-batch, then exit 0
        return f"stopped (SIGTERM) after {MICRO_BATCHES} committed micro-batches"

    return drive


# -- a stack -------------------------------------------------------------------------------------------------


def rehearse_plan(plan: Plan, *, jobs: Collection[str] | None = None, history: bool = True,
                  work: Path | None = None) -> StackReport:
    """Rehearse an already rendered plan (or a changed copy of one: the tests reintroduce defects this way):
    every job, or only `jobs`; the History Server check when `history`."""
    stage = rehearsal_plan(plan)
    applications = job_order(stage.applications)
    known = ", ".join(a.name for a in applications) or "none"
    unknown = sorted(set(jobs or ()) - {a.name for a in applications})
    if unknown:
        raise SpkError(f"{plan.stack}: no rendered job named {', '.join(map(repr, unknown))} (have: {known})")
    if jobs is not None:
        applications = [a for a in applications if a.name in jobs]
    with ExitStack() as stack:
        work = work or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"spk-rehearse-{plan.stack}-")))
        aws = stack.enter_context(LocalAws())
        roles = {stage.role_of(a.namespace, a.service_account).name: stage.role_of(a.namespace, a.service_account)
                 for a in applications}
        if stage.history_server is not None:
            history_role = stage.role_of(stage.history_server.namespace, stage.history_server.service_account)
            roles[history_role.name] = history_role
        aws.create(stage, list(roles.values()))
        kafka = None
        topics = stage.kafka_topics()
        if topics:
            from spk.local_services import LocalKafka

            kafka = stack.enter_context(LocalKafka())
            kafka.create_topics(topics)
        if applications:  # what the collectors landed before the first run
            publish_landing(aws, applications[0].environment.raw_uri, 0)
        reports: list[JobReport] = []
        overrides: list[Override] = []
        for application in applications:
            report, used = rehearse_job(application, stage, aws, work, kafka)
            reports.append(report)
            overrides += used
        history_report = None
        if stage.history_server is not None and history:
            server = stage.history_server
            credentials: SessionCredentials = aws.assume(
                stage.role_of(server.namespace, server.service_account), server.namespace, server.service_account)
            history_report, used = check_history_server(
                server, endpoint=aws.endpoint, credentials=credentials,
                expected={r.application_id: r.name for r in reports if r.passed and r.application_id},
                log=work / "history-server.log")
            overrides += used
        return StackReport(plan.stack, reports, history_report, overrides)


def rehearse_command(
    stack: Annotated[str, typer.Argument(help="Stack name (dev, staging, prod).")],
    job: Annotated[str | None, typer.Option("--job", help="Rehearse only this job (no History Server check).")] = None,
) -> None:
    """Run the stack's jobs exactly as rendered against local S3, IAM/STS, Glue and Kafka; exit 1 if one fails."""
    from spk.console import user_errors

    with user_errors():
        from spk.engine import render_plan

        # The work folder (each job's log) is kept: the report points failed jobs at their logs.
        work = Path(tempfile.mkdtemp(prefix=f"spk-rehearse-{stack}-"))
        report = rehearse_plan(render_plan(stack), jobs=None if job is None else [job], history=job is None,
                               work=work)
    typer.echo(render(report), nl=False)
    if not report.passed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("rehearse")(rehearse_command)
