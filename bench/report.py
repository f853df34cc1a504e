#!/usr/bin/env python3
"""scripts/bench's report: every run's figures, the AWS requests of the runs
made through the delay proxy (bench/aws_delay_proxy.mjs) by API, the wan
scenario (0, 15, 50 ms), then the performance targets (issues 8 and 18) each
with its measured value. Reads build/bench/*.json, writes
build/bench/report.json."""
import json
import os
import sys

out = sys.argv[1]
runs = {}
for name in sorted(os.listdir(out)):
    if name.endswith(".json") and name != "report.json":
        with open(os.path.join(out, name)) as f:
            runs[name[:-5]] = json.load(f)


def get(run, *path):
    value = runs.get(run)
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def fmt(value, digits=0):
    return "-" if value is None else f"{value:.{digits}f}"


# scripts/bench --binary LABEL=PATH ... --rounds N: the HTTP figures of each
# binary, round by round (the runs alternated), their ranges and medians, and
# each binary's large uploads.
compared = {}
for name, r in runs.items():
    if name.startswith("http-") and "metadata_reads" in r:
        label, _, round_ = name[len("http-"):].rpartition("-")
        compared.setdefault(label, []).append((int(round_), r))
if compared:
    print("HTTP, builds compared in one session (wrk -t2 -c32 metadata reads, -c16 1 KiB uploads; requests/s)")
    print(f"{'binary':<12}{'round':>6}{'reads/s':>10}{'uploads/s':>11}{'non-2xx':>9}  load average")
    # In the order they ran.
    rows = sorted(((n, label, r) for label in compared for n, r in compared[label]),
                  key=lambda row: (row[2].get("started", 0), row[0]))
    for n, label, r in rows:
        bad = r["metadata_reads"]["non_2xx"] + r["uploads"]["non_2xx"]
        print(f"{label:<12}{n:>6}{r['metadata_reads']['requests_per_second']:>10.0f}"
              f"{r['uploads']['requests_per_second']:>11.0f}{bad:>9}  {r.get('load_average', '')}")

    def figures(label, what):
        return sorted(r[what]["requests_per_second"] for _, r in compared[label])

    def median(values):
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    for label in compared:
        reads, ups = figures(label, "metadata_reads"), figures(label, "uploads")
        print(f"{label}: reads {reads[0]:.0f}-{reads[-1]:.0f} (median {median(reads):.0f}), "
              f"uploads {ups[0]:.0f}-{ups[-1]:.0f} (median {median(ups):.0f})")
    for name, r in runs.items():
        if name.startswith("http_large_uploads-"):
            print(f"{name[len('http_large_uploads-'):]}: 16 x 50 MiB uploads in {r['seconds']} s "
                  f"({r['mib_per_second']} MiB/s), peak RSS {r['peak_rss_mib']} MiB, {r['failed']} failed")
    print()
    if not any("scenario" in r for r in runs.values()):
        sys.exit(0)


# p50/p99: publish -> processed_events row (its millisecond timestamp, taken
# when the transaction starts); pub p99: commit -> published.
print(f"{'run':<30}{'events/s':>9}{'e2e ev/s':>9}{'ceiling':>8}{'p50 ms':>8}{'p99 ms':>8}"
      f"{'pub p99':>8}{'cpu/1k':>8}{'emu/1k':>8}{'pg/1k':>7}{'rss MiB':>8}")
for name, r in runs.items():
    if "scenario" not in r or r["scenario"] == "idle":
        continue
    latency = r.get("publish_to_archived_ms", {})
    print(f"{name:<30}{fmt(r.get('entity_events_per_second')):>9}{fmt(r.get('end_to_end_events_per_second')):>9}"
          f"{fmt(get(name, 'emulator_ceiling', 'events_per_second')):>8}{fmt(latency.get('p50'), 1):>8}"
          f"{fmt(latency.get('p99'), 1):>8}{fmt(get(name, 'commit_to_published_ms', 'p99'), 1):>8}"
          f"{fmt(r.get('cpu_seconds_per_1000_events'), 3):>8}"
          f"{fmt(r.get('emulator_cpu_seconds_per_1000_events'), 3):>8}"
          f"{fmt(r.get('postgres_cpu_seconds_per_1000_events'), 2):>7}{fmt(r.get('rss_peak_kib', 0) / 1024, 1):>8}")

# AWS requests per 1,000 events by API, as the delay proxy counted them
# while docvault ran (the bill); the ceiling's client for comparison.
GROUPS = (("receive", ("sqs.ReceiveMessage",)), ("delete", ("sqs.DeleteMessageBatch",)),
          ("chvis", ("sqs.ChangeMessageVisibility", "sqs.ChangeMessageVisibilityBatch")),
          ("publish", ("sns.PublishBatch",)), ("send", ("sqs.SendMessageBatch",)))


def by_group(aws):
    per = dict(aws.get("requests_per_1000_events", {}))
    row = {}
    for group, apis in GROUPS:
        row[group] = sum(per.pop(api, 0) for api in apis)
    row["others"] = sum(per.values())
    row["total"] = aws.get("total_requests_per_1000_events")
    return row, sorted(per)


proxied = [(name, r) for name, r in runs.items() if "aws" in r and r.get("scenario") != "idle"]
if proxied:
    print("\nAWS requests per 1,000 entity events, through the delay proxy (receive = ReceiveMessage, delete ="
          " DeleteMessageBatch,\nchvis = ChangeMessageVisibility(Batch), publish = SNS PublishBatch, send = SQS"
          " SendMessageBatch; proxy/1k: the proxy's CPU s)")
    print(f"{'run':<30}{'delay':>6}{'receive':>8}{'delete':>7}{'chvis':>6}{'publish':>8}{'send':>6}{'others':>7}"
          f"{'total':>7}{'proxy/1k':>9}  others are")
    for name, r in proxied:
        for label, aws in ((name, r["aws"]), (f"  (its ceiling, {get(name, 'emulator_ceiling', 'lanes')} lanes)",
                                             get(name, "emulator_ceiling", "aws"))):
            if not aws:
                continue
            row, others = by_group(aws)
            print(f"{label:<30}{fmt(aws.get('delay_ms')):>6}" + "".join(
                f"{fmt(row[g]):>{w}}" for g, w in (("receive", 8), ("delete", 7), ("chvis", 6), ("publish", 8),
                                                  ("send", 6), ("others", 7), ("total", 7)))
                  + f"{fmt(aws.get('proxy_cpu_seconds_per_1000_events'), 2):>9}  {', '.join(others)}")

# The wan scenario: full speed and 100 events/s at each delay.
wan = [ms for ms in (0, 15, 50) if f"wan-{ms}-throughput" in runs]
if wan:
    print("\nwan: docvault's AWS calls through the delay proxy (full speed, relay on; p50/p99: publish -> the"
          " entity's last\nevent published at 100 ev/s)")
    print(f"{'delay ms':>8}{'e2e ev/s':>9}{'of 0 ms':>8}{'ceiling':>8}{'p50 ms':>8}{'p99 ms':>8}{'cpu/1k':>8}"
          f"{'req/1k':>8}{'100/s cpu/1k':>13}{'100/s req/1k':>13}")
    base = get("wan-0-throughput", "end_to_end_events_per_second")
    for ms in wan:
        t, lat = f"wan-{ms}-throughput", f"wan-{ms}-latency-100"
        e2e = get(t, "end_to_end_events_per_second")
        print(f"{ms:>8}{fmt(e2e):>9}{fmt(None if not (e2e and base) else e2e / base * 100):>7}%"
              f"{fmt(get(t, 'emulator_ceiling', 'events_per_second')):>8}"
              f"{fmt(get(lat, 'publish_to_published_ms', 'p50'), 1):>8}{fmt(get(lat, 'publish_to_published_ms', 'p99'), 1):>8}"
              f"{fmt(get(t, 'cpu_seconds_per_1000_events'), 3):>8}{fmt(get(t, 'aws', 'total_requests_per_1000_events')):>8}"
              f"{fmt(get(lat, 'cpu_seconds_per_1000_events'), 3):>13}{fmt(get(lat, 'aws', 'total_requests_per_1000_events')):>13}")

targets = []


def target(what, measured, ok, unit=""):
    if measured is None or measured == "-":
        targets.append((what, "not measured", "-"))
    else:
        targets.append((what, f"{measured}{unit}", "met" if ok else "NOT MET"))


for b in ("postgresql", "sqlite"):
    on, off, lat = f"{b}-throughput-relay-on", f"{b}-throughput-relay-off", f"{b}-latency-100"
    if on not in runs:
        continue
    fraction = get(on, "fraction_of_ceiling")
    target(f"{b}: end to end >= 80% of the emulator's ceiling (D=5)",
           None if fraction is None else f"{fraction * 100:.0f}% ({get(on, 'end_to_end_events_per_second'):.0f} of "
           f"{get(on, 'emulator_ceiling', 'events_per_second'):.0f} ev/s)", fraction is not None and fraction >= 0.8)
    rate = get(off, "entity_events_per_second")
    target(f"{b}: >= 3000 entity events/s, relay off", fmt(rate), rate is not None and rate >= 3000, " ev/s")
    cpu = get(on, "cpu_seconds_per_1000_events")
    target(f"{b}: <= 150 ms docvault CPU per 1000 events (full speed)", fmt(None if cpu is None else cpu * 1000),
           cpu is not None and cpu <= 0.150, " ms")
    cpu = get(off, "cpu_seconds_per_1000_events")
    target(f"{b}: <= 150 ms docvault CPU per 1000 events (relay off: the consumer)",
           fmt(None if cpu is None else cpu * 1000), cpu is not None and cpu <= 0.150, " ms")
    cpu = get(lat, "cpu_seconds_per_1000_events")
    target(f"{b}: <= 150 ms docvault CPU per 1000 events (100 ev/s)", fmt(None if cpu is None else cpu * 1000),
           cpu is not None and cpu <= 0.150, " ms")
    # Archived is committed before its events are published: publish -> published
    # (commit and relay included) bounds it from above, at full precision.
    p50, p99 = get(lat, "publish_to_published_ms", "p50"), get(lat, "publish_to_published_ms", "p99")
    target(f"{b}: at 100 ev/s publish -> archived p50 <= 10 ms, p99 <= 30 ms",
           None if p50 is None else f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (to published)",
           p50 is not None and p50 <= 10 and p99 <= 30)
    p99 = get(lat, "commit_to_published_ms", "p99")
    target(f"{b}: at 100 ev/s commit -> published p99 <= 50 ms", fmt(p99, 1), p99 is not None and p99 <= 50, " ms")
    for size, limit in (("10k", 250), ("100k", 2000)):
        ms = get(f"{b}-large-{size}", "consumer_duration_ms")
        target(f"{b}: {size} documents archived with outbox rows <= {limit} ms", ms, ms is not None and ms <= limit,
               " ms")
    idle = get(on, "rss_idle_kib")
    target(f"{b}: RSS idle <= 32 MiB", fmt(None if idle is None else idle / 1024, 1), idle is not None and idle <= 32768,
           " MiB")

# Issue 18: the same work over a network's round trips (the wan scenario).
base = get("wan-0-throughput", "end_to_end_events_per_second")
for ms, share in ((15, 0.8), (50, 0.6)):
    e2e = get(f"wan-{ms}-throughput", "end_to_end_events_per_second")
    target(f"wan: at {ms} ms end to end >= {share * 100:.0f}% of the 0 ms run",
           None if not (e2e and base) else f"{e2e / base * 100:.0f}% ({e2e:.0f} of {base:.0f} ev/s)",
           bool(e2e and base) and e2e >= share * base)
cpu0, cpu15 = get("wan-0-throughput", "cpu_seconds_per_1000_events"), get("wan-15-throughput",
                                                                            "cpu_seconds_per_1000_events")
target("wan: docvault CPU per 1000 events at 15 ms <= 110% of 0 ms",
       None if not (cpu0 and cpu15) else f"{cpu15 / cpu0 * 100:.0f}% ({cpu15 * 1000:.0f} vs {cpu0 * 1000:.0f} ms)",
       bool(cpu0 and cpu15) and cpu15 <= 1.1 * cpu0)
for ms in (0, 15, 50):
    total = get(f"wan-{ms}-throughput", "aws", "total_requests_per_1000_events")
    d = get(f"wan-{ms}-throughput", "documents_per_entity")
    target(f"wan: at {ms} ms <= 1300 AWS requests per 1000 events (D=5)",
           None if total is None else f"{total:.0f} (D={d})", total is not None and d == 5 and total <= 1300)

peak = get("postgresql-backlog-100k", "rss_peak_kib")
target("RSS while draining a 100,000-message backlog <= 64 MiB", fmt(None if peak is None else peak / 1024, 1),
       peak is not None and peak <= 65536, " MiB")
receives, seconds = get("postgresql-idle", "receive_calls"), get("postgresql-idle", "seconds")
target("idle: at most one ReceiveMessage per 20 s wait", None if receives is None else
       f"{receives:.0f} in {seconds:.0f} s", receives is not None and receives <= seconds / 20 + 1)
cpu = get("postgresql-idle", "cpu_percent")
target("idle: < 0.5% CPU", fmt(cpu, 2), cpu is not None and cpu < 0.5, "%")
reads = get("http", "metadata_reads", "requests_per_second")
target("HTTP: >= 5000 metadata reads/s", fmt(reads), reads is not None and reads >= 5000, "/s")
uploads = get("http", "uploads", "requests_per_second")
if uploads is not None:
    targets.append(("HTTP: uploads (1 KiB, no target)", f"{uploads:.0f}/s", "-"))

print()
width = max(len(t[0]) for t in targets)
for what, measured, verdict in targets:
    print(f"{what:<{width}}  {measured:<32}  {verdict}")
with open(os.path.join(out, "report.json"), "w") as f:
    json.dump({"runs": runs, "targets": [{"target": t[0], "measured": t[1], "verdict": t[2]} for t in targets]}, f,
              indent=2)
delays = sorted({r["aws_delay_ms"] for name, r in runs.items() if r.get("aws_delay_ms") and not name.startswith("wan-")})
if delays:
    print(f"\n(every run above went through the delay proxy at {', '.join(f'{d:.0f}' for d in delays)} ms: issue 8's "
          "targets were set for loopback)")
print(f"\n(JSON: {out}/report.json; machine: {os.cpu_count()} cores, shared; emulator, PostgreSQL, load and docvault "
      "on one box)")
