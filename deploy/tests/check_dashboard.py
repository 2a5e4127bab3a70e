"""Checks the rollout dashboard: its structure always, and with --prometheus URL
that every panel's query runs and returns series on a live Prometheus."""
import argparse
import json
import sys
import urllib.parse
import urllib.request

RATE_WINDOW = "1m"


def queries(dashboard):
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel, target


def check_structure(dashboard):
    problems = []
    ids = [p["id"] for p in dashboard["panels"]]
    if len(ids) != len(set(ids)):
        problems.append("panel ids are not unique")
    for panel in dashboard["panels"]:
        exprs = [t.get("expr", "").strip() for t in panel.get("targets", [])]
        if not exprs or not all(exprs):
            problems.append(f"panel {panel['title']!r} has a target without a query")
    return problems


def check_live(dashboard, base):
    problems = []
    for panel, target in queries(dashboard):
        expr = target["expr"].replace("$__rate_interval", RATE_WINDOW)
        url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            body = json.load(urllib.request.urlopen(url, timeout=10))
        except Exception as e:  # an HTTP 400 carries Prometheus's error text
            problems.append(f"{panel['title']} [{target['refId']}]: query failed: {e}")
            continue
        series = body.get("data", {}).get("result", [])
        print(f"  {panel['title']} [{target['refId']}]: {len(series)} series")
        if body.get("status") != "success" or not series:
            problems.append(f"{panel['title']} [{target['refId']}]: no series")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dashboard")
    parser.add_argument("--prometheus")
    args = parser.parse_args()
    dashboard = json.load(open(args.dashboard))
    problems = check_structure(dashboard)
    print(f"check-dashboard: {len(dashboard['panels'])} panels, {sum(1 for _ in queries(dashboard))} queries")
    if args.prometheus and not problems:
        problems += check_live(dashboard, args.prometheus.rstrip("/"))
    for p in problems:
        print(f"  FAIL {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
