"""``leadflow scoring …``: train, publish, shadow, report, load history into the emulator.

leadflow scoring train --from-csv FILE --mapping deploy/model/x-education-mapping.yaml [--publish]
leadflow scoring train --from-salesforce --mapping …   (LEADFLOW_SF_* settings, or --emulator URL)
leadflow scoring demo-report --from-csv FILE --mapping …   (emulator → history → Bulk 2.0 → train → report)
leadflow scoring publish VERSION [--force] | shadow VERSION… | status | shadow-report …
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ARTIFACTS = Path("var/models")


class CliSalesforceSettings(BaseSettings):
    """Salesforce connection for the CLI, from LEADFLOW_SF_* (see leadflow_salesforce.SalesforceSettings)."""

    model_config = SettingsConfigDict(env_prefix="LEADFLOW_SF_", env_file=".env", extra="ignore")

    domain: str = "login"
    login_url: str | None = None
    instance_url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    auth: str = "soap"
    ca_bundle: Path | None = None
    api_version: str = "59.0"


class Progress:
    """A one-line progress bar on stderr: ``label  done/total [#####.....]  45 %``."""

    def __init__(self, label: str, stream: Any = None, width: int = 30) -> None:
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        frac = done / total if total else 1.0
        bar = "#" * int(frac * self.width)
        self.stream.write(f"\r{self.label} {done:>7}/{total:<7} [{bar:<{self.width}}] {frac:4.0%}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def _limit_threads() -> None:
    # OpenMP threads fight over a small shared machine (a fit can get 30x slower); one thread is predictable.
    from leadflow_model.threads import limit_threads

    limit_threads(1)


def _sf_settings(args: argparse.Namespace) -> Any:
    from leadflow_salesforce import SalesforceSettings

    if getattr(args, "emulator", None):
        from leadflow_salesforce.testing import (
            DEFAULT_PASSWORD,
            DEFAULT_TOKEN,
            DEFAULT_USERNAME,
        )

        return SalesforceSettings(
            login_url=args.emulator,
            instance_url=args.emulator,
            username=DEFAULT_USERNAME,
            password=SecretStr(DEFAULT_PASSWORD),
            security_token=SecretStr(DEFAULT_TOKEN),
            ca_bundle=args.emulator_ca,
        )
    env = CliSalesforceSettings()
    return SalesforceSettings(**env.model_dump(exclude_none=True))


def _history_from_salesforce(args: argparse.Namespace, mapping: Any) -> Any:
    from leadflow_salesforce import connect

    from leadflow_model.emulator import check_org_fields
    from leadflow_model.history import fetch_salesforce_history

    sf = connect(_sf_settings(args))
    check_org_fields(sf, mapping)
    return fetch_salesforce_history(
        sf,
        mapping,
        since=args.since,
        until=args.until,
        page_size=args.page_size,
        wait=args.bulk_wait,
        progress=Progress("bulk 2.0 query: Lead"),
    )


def _print_metrics(outcome: Any, out: Any) -> None:
    from leadflow_model.report import comparison_lines

    m = outcome.trained.metrics
    out.write(
        f"version {outcome.version}\n  artifact {outcome.path}\n  report   {outcome.report}\n"
        f"  chosen by CV on the training split: {m['chosen_params'] or 'defaults'}; calibration "
        f"{m['calibration_method']}; published model "
        f"{'refitted on all history' if m.get('refit_on_all') else 'as validated'}\n"
    )
    for split in [m, *([outcome.other] if outcome.other else [])]:
        out.write("\n".join(comparison_lines(split)) + "\n")


def _train_common(args: argparse.Namespace, history: Any, mapping: Any) -> int:
    from leadflow_model.train import TrainConfig
    from leadflow_model.workflow import PublishRefused, publish, train_and_write

    cfg = TrainConfig(holdout=args.holdout, holdout_fraction=args.holdout_fraction, refit_on_all=not args.no_refit)
    if args.quick:
        cfg = TrainConfig(
            holdout=args.holdout,
            holdout_fraction=args.holdout_fraction,
            cv_folds=3,
            refit_on_all=not args.no_refit,
            param_grid=({"max_iter": 60},),
            baseline=False,
            ensemble=False,
            bootstrap=0,
        )
    skipped = getattr(history, "skipped", {})
    print(
        f"history: {len(history)} leads with an outcome from {history.source}"
        + (f" (still open, left out: {skipped})" if skipped else ""),
        file=sys.stderr,
    )
    outcome = train_and_write(
        history,
        mapping,
        args.artifacts,
        cfg,
        command=shlex.join(sys.argv),
        report_dir=args.report_dir,
        other_split=getattr(args, "other_split", False) and not args.quick,
    )
    _print_metrics(outcome, sys.stdout)
    if args.publish:
        # A model refitted on all history has seen the holdout: compare the recorded validation figures.
        evaluation = None if cfg.refit_on_all else outcome.holdout
        try:
            verdict = publish(args.artifacts, outcome.version, force=args.force, evaluation=evaluation)
        except PublishRefused as e:
            print(f"error: {e}", file=sys.stderr)
            return 3
        print(f"published {outcome.version} (previous: {verdict['previous']})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from leadflow_model.history import read_csv_history
    from leadflow_model.mapping import load_mapping

    _limit_threads()
    mapping = load_mapping(args.mapping)
    history = read_csv_history(args.from_csv, mapping) if args.from_csv else _history_from_salesforce(args, mapping)
    return _train_common(args, history, mapping)


def cmd_load_history(args: argparse.Namespace) -> int:
    import requests

    from leadflow_model.emulator import seed_history
    from leadflow_model.history import read_csv_history
    from leadflow_model.mapping import load_mapping

    mapping = load_mapping(args.mapping)
    history = read_csv_history(args.from_csv, mapping)
    s = requests.Session()
    s.trust_env = False
    s.verify = str(args.emulator_ca) if args.emulator_ca else True
    n = seed_history(s, args.emulator, history, mapping, progress=Progress("seeding Lead history"))
    print(f"loaded {n} history leads ({sum(history.labels)} converted) into {args.emulator}")
    return 0


def cmd_demo_report(args: argparse.Namespace) -> int:
    """The whole path on a private emulator: CSV → emulator history → Bulk 2.0 → train → report."""
    from leadflow_salesforce import connect
    from leadflow_salesforce.testing import running_emulator

    from leadflow_model.emulator import check_org_fields, extended_schema, seed_history
    from leadflow_model.history import fetch_salesforce_history, read_csv_history
    from leadflow_model.mapping import load_mapping

    _limit_threads()
    mapping = load_mapping(args.mapping)
    csv_history = read_csv_history(args.from_csv, mapping)
    with tempfile.TemporaryDirectory(prefix="leadflow-model-") as tmp:
        schema = extended_schema(Path(tmp) / "sobjects.json")
        with running_emulator(env={"SFEMU_SCHEMA_PATH": str(schema)}) as emu:
            emu.reset()
            seed_history(emu._http, emu.url, csv_history, mapping, progress=Progress("seeding Lead history"))
            sf = connect(emu.salesforce_settings())
            check_org_fields(sf, mapping)
            history = fetch_salesforce_history(
                sf, mapping, page_size=args.page_size, wait=0, progress=Progress("bulk 2.0 query: Lead")
            )
    return _train_common(args, history, mapping)


def cmd_publish(args: argparse.Namespace) -> int:
    from leadflow_model.workflow import PublishRefused, publish

    try:
        verdict = publish(args.artifacts, args.version, force=args.force)
    except PublishRefused as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    print(json.dumps(verdict, indent=2, default=str))
    return 0


def cmd_shadow(args: argparse.Namespace) -> int:
    from leadflow_model.workflow import set_shadow

    pointer = set_shadow(args.artifacts, [] if args.clear else args.versions)
    print(pointer.model_dump_json(indent=2))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from leadflow_model.artifacts import list_versions, read_active, read_manifest

    pointer = read_active(args.artifacts)
    for v in list_versions(args.artifacts):
        m = read_manifest(args.artifacts / v)
        role = "active" if v == pointer.active else "shadow" if v in pointer.shadow else ""
        auc = f"{m.holdout_roc_auc:.4f}" if m.holdout_roc_auc is not None else "–"
        print(f"{v:<45} {role:<7} holdout ROC AUC {auc}  source {m.source}")
    return 0


def _read_scored(path: Path) -> list[dict[str, Any]]:
    """JSON lines: LeadScored events (score.model) or {lead_id, model} objects."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                raise SystemExit(f"{path}:{n}: not JSON") from None
            model = obj.get("model") or (obj.get("score") or {}).get("model")
            out.append({"lead_id": obj.get("lead_id"), "model": model})
    return out


def cmd_shadow_report(args: argparse.Namespace) -> int:
    import csv

    from leadflow_model.workflow import shadow_markdown, shadow_report

    scored = _read_scored(args.scored)
    outcomes: dict[str, int] = {}
    if args.outcomes_csv:
        with open(args.outcomes_csv, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                outcomes[row[args.id_column]] = 1 if row[args.outcome_column].strip().lower() in ("1", "true") else 0
    else:
        from leadflow_salesforce import connect
        from simple_salesforce.format import format_soql

        sf = connect(_sf_settings(args))
        ids = sorted({s["lead_id"] for s in scored if s["lead_id"]})
        for i in range(0, len(ids), 200):
            soql = format_soql(
                "SELECT Leadflow_Id__c, IsConverted, Status FROM Lead WHERE Leadflow_Id__c IN {}", ids[i : i + 200]
            )
            res = sf.query_all(soql)
            for r in res["records"]:
                if r["IsConverted"]:
                    outcomes[r["Leadflow_Id__c"]] = 1
                elif r["Status"] == args.lost_status:
                    outcomes[r["Leadflow_Id__c"]] = 0
    result = shadow_report(scored, outcomes)
    md = shadow_markdown(result)
    if args.out:
        args.out.write_text(md, encoding="utf-8")
    print(md)
    return 0


def cmd_emulator_schema(args: argparse.Namespace) -> int:
    from leadflow_model.emulator import extended_schema

    print(extended_schema(args.out))
    return 0


def _dt(v: str) -> datetime:
    d = datetime.fromisoformat(v.replace("Z", "+00:00"))
    if d.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2024-01-01T00:00:00Z")
    return d


def _sf_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--emulator", metavar="URL", help="use the emulator's built-in credentials at URL")
    p.add_argument("--emulator-ca", type=Path, help="CA file of the emulator (its --cert-dir/ca.pem)")


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mapping", type=Path, required=True, help="mapping YAML (deploy/model/x-education-mapping.yaml)")
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS, help="artifacts directory (var/models)")
    p.add_argument("--holdout", choices=["time", "stratified"], default="time")
    p.add_argument("--holdout-fraction", type=float, default=0.2)
    p.add_argument("--report-dir", type=Path, help="also copy the evaluation report here")
    p.add_argument("--publish", action="store_true", help="make the new version active (guarded)")
    p.add_argument("--force", action="store_true", help="publish even when worse than the active model")
    p.add_argument("--page-size", type=int, default=2000, help="Bulk 2.0 records per result page")
    p.add_argument("--quick", action="store_true", help="one small candidate, 3 folds, no baseline (smoke tests)")
    p.add_argument(
        "--no-refit", action="store_true", help="publish the validated model instead of refitting on all history"
    )
    p.add_argument(
        "--other-split", action="store_true", help="also evaluate on the other holdout kind (time ↔ stratified)"
    )


def _guarded(fn: Any) -> Any:
    """Expected failures (missing file, bad or leaky mapping, too little history, bad artifact) → one line on
    stderr and exit code 2, never a traceback."""
    import functools

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        from leadflow_model.artifacts import ArtifactError
        from leadflow_model.leakage import LeakageError
        from leadflow_model.mapping import MappingError
        from leadflow_model.train import TrainingError

        try:
            return int(fn(args) or 0)
        except (MappingError, LeakageError, TrainingError, ArtifactError) as e:
            kind = "leakage" if isinstance(e, LeakageError) else "error"
            print(f"{kind}: {' '.join(str(e).split())}", file=sys.stderr)
            return 2
        except OSError as e:
            where = f"{e.filename}: " if getattr(e, "filename", None) else ""
            print(f"error: {where}{e.strerror or e}", file=sys.stderr)
            return 2

    return run


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("scoring", help="predictive lead scoring: train, publish, shadow, report")
    sub = parser.add_subparsers(dest="scoring_command", metavar="ACTION", required=True)

    p = sub.add_parser("train", help="train a calibrated model on history with known outcomes")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-salesforce", action="store_true", help="Bulk 2.0 query of historical Leads")
    src.add_argument("--from-csv", type=Path, metavar="FILE", help="a lead export, mapped by --mapping")
    _train_args(p)
    _sf_args(p)
    p.add_argument("--since", type=_dt, help="only leads created at or after (ISO-8601)")
    p.add_argument("--until", type=_dt, help="only leads created before (ISO-8601)")
    p.add_argument("--bulk-wait", type=float, default=0.5, help="first poll delay of the Bulk 2.0 job (s)")
    p.set_defaults(func=_guarded(cmd_train))

    p = sub.add_parser("demo-report", help="CSV → emulator history → Bulk 2.0 → train → report (make model-report)")
    p.add_argument("--from-csv", type=Path, required=True, metavar="FILE")
    _train_args(p)
    p.set_defaults(other_split=True)
    p.set_defaults(func=_guarded(cmd_demo_report))

    p = sub.add_parser("load-history", help="load an export's leads and outcomes into the emulator")
    p.add_argument("--from-csv", type=Path, required=True, metavar="FILE")
    p.add_argument("--mapping", type=Path, required=True)
    p.add_argument("--emulator", required=True, metavar="URL")
    p.add_argument("--emulator-ca", type=Path)
    p.set_defaults(func=_guarded(cmd_load_history))

    p = sub.add_parser("emulator-schema", help="write the emulator schema plus the history Lead fields")
    p.add_argument("out", type=Path)
    p.set_defaults(func=_guarded(cmd_emulator_schema))

    p = sub.add_parser("publish", help="make a version active (refused when worse, unless --force)")
    p.add_argument("version")
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=_guarded(cmd_publish))

    p = sub.add_parser("shadow", help="score candidate versions alongside the active one (recorded, not used)")
    p.add_argument("versions", nargs="*")
    p.add_argument("--clear", action="store_true")
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    p.set_defaults(func=_guarded(cmd_shadow))

    p = sub.add_parser("status", help="list versions, the active one and shadows")
    p.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    p.set_defaults(func=_guarded(cmd_status))

    p = sub.add_parser("shadow-report", help="compare active vs shadow scores on leads that later converted")
    p.add_argument("--scored", type=Path, required=True, help="JSON lines of LeadScored events")
    p.add_argument(
        "--outcomes-csv", type=Path, help="CSV with lead ids and outcomes (else Salesforce by Leadflow_Id__c)"
    )
    p.add_argument("--id-column", default="lead_id")
    p.add_argument("--outcome-column", default="converted")
    p.add_argument("--lost-status", default="Closed - Not Converted")
    p.add_argument("--out", type=Path, help="write the markdown here too")
    _sf_args(p)
    p.set_defaults(func=_guarded(cmd_shadow_report))
