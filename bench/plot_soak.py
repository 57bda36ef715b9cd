#!/usr/bin/env python3
"""Plots the soak's samples (tests/src/bin/soak.rs): resident memory and open files of both
Space servers over time, and deployments done. Usage: plot_soak.py soak.csv out.png"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = list(csv.DictReader(line for line in open(sys.argv[1]) if not line.startswith("#")))
t = [int(r["seconds"]) for r in rows]
fig, (mem, fds, done) = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
for who in ("dev", "prod"):
    mem.plot(t, [int(r[f"{who}_rss_kib"]) / 1024 for r in rows], label=f"{who} Space")
    if f"{who}_data_kib" in rows[0]:
        mem.plot(t, [int(r[f"{who}_data_kib"]) / 1024 for r in rows], "--",
                 label=f"{who} data directory on disk")
    fds.plot(t, [int(r[f"{who}_fds"]) for r in rows], label=f"{who} Space")
mem.set_ylabel("MiB")
mem.set_ylim(bottom=0)
mem.legend()
fds.set_ylabel("open files")
fds.set_ylim(bottom=0)
fds.legend()
done.plot(t, [int(r["deployed"]) for r in rows], label="promotions deployed (receipt back)")
done.plot(t, [int(r["in_flight"]) for r in rows], label="in flight")
done.set_ylabel("count")
done.set_xlabel("seconds")
done.legend()
fig.suptitle("Soak: 50 concurrent promotions and deployments, two connected Spaces")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
