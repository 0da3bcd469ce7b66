#!/usr/bin/env python3
"""Static exposition server for bench/scrape.sh: N local exporters on ports PORT..PORT+N-1.

Each exporter serves SERIES node-exporter-like series (Prometheus text 0.0.4) over HTTP/1.1
keep-alive. Values are fixed-seeded and rotate through a few pre-rendered variants per target,
so every scrape stores new values without the exporter spending CPU rendering text.
Usage: scrape_exporter.py FIRST_PORT COUNT SERIES [SECONDS]
"""
import asyncio
import random
import sys

VARIANTS = 4


def render(target, series, variant, rng):
    """SERIES lines in node_exporter-like families, each family with one HELP and TYPE."""
    fams = {}  # name -> (type, help, [lines])

    def add(name, typ, labels, value):
        fams.setdefault(name, (typ, name.replace("_", " "), []))[2].append(
            "%s%s %s" % (name, labels, value)
        )

    n = 0
    cpu = 0
    while n < series:
        for mode in ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"):
            if n < series:
                v = 1000.0 * (target + 1) + cpu * 10 + variant * rng.random()
                add("node_cpu_seconds_total", "counter", '{cpu="%d",mode="%s"}' % (cpu, mode), "%.2f" % v)
                n += 1
        for dev in ("eth", "wlan"):
            for kind in ("receive_bytes", "transmit_bytes", "receive_packets"):
                if n < series:
                    v = int(1e6 * (cpu + 1) + variant * 1500 + rng.randint(0, 999))
                    add("node_network_%s_total" % kind, "counter", '{device="%s%d"}' % (dev, cpu), v)
                    n += 1
        for fs in ("/", "/var", "/home"):
            if n < series:
                v = 5e10 - variant * 4096 * rng.randint(1, 9)
                labels = '{device="/dev/sd%d",fstype="ext4",mountpoint="%s%d"}' % (cpu, fs, cpu)
                add("node_filesystem_avail_bytes", "gauge", labels, "%.0f" % v)
                n += 1
        if n < series:
            add("node_memory_Cached_%d_bytes" % cpu, "gauge", "", "%.0f" % (2e9 + variant * rng.randint(0, 1 << 20)))
            n += 1
        cpu += 1
    lines = []
    for name, (typ, help_text, samples) in fams.items():
        lines.append("# HELP %s %s." % (name, help_text))
        lines.append("# TYPE %s %s" % (name, typ))
        lines.extend(samples)
    lines.append("")
    return "\n".join(lines).encode()


async def main():
    first, count, series = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 3600.0
    responses = []
    for t in range(count):
        rng = random.Random(t * 7919 + 1)
        out = []
        for v in range(VARIANTS):
            body = render(t, series, v, rng)
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                "Content-Length: %d\r\n\r\n" % len(body)
            ).encode()
            out.append(head + body)
        responses.append(out)
    counters = [0] * count

    def handler(t):
        async def handle(reader, writer):
            try:
                while True:
                    req = await reader.readuntil(b"\r\n\r\n")
                    if not req:
                        break
                    counters[t] += 1
                    writer.write(responses[t][counters[t] % VARIANTS])
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                pass
            finally:
                writer.close()

        return handle

    servers = [
        await asyncio.start_server(handler(t), "127.0.0.1", first + t, backlog=64)
        for t in range(count)
    ]
    print("ready", flush=True)
    await asyncio.sleep(seconds)
    for s in servers:
        s.close()


if __name__ == "__main__":
    asyncio.run(main())
