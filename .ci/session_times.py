"""Print the nox sessions' wall times and disk use (JSON lines written by noxfile.py) and warn past
40 minutes.

python3 .ci/session_times.py TIMES_FILE TOTAL_SECONDS
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

WARN_AFTER_S = 40 * 60


def main(times_file: str, total_s: int) -> None:
    lines = Path(times_file).read_text().splitlines() if Path(times_file).exists() else []
    rows = [json.loads(line) for line in lines if line.strip()]
    width = max([len(r["session"]) for r in rows] + [len("total (the whole command)")])
    print("\nsession times:")
    for r in sorted(rows, key=lambda r: -r["seconds"]):
        venv_gb, free_gb = r.get("virtualenv_gb", 0.0), r.get("free_disk_gb", 0.0)
        disk = f"  virtualenv {venv_gb:4.1f} GB, {free_gb:5.1f} GB free after"
        print(f"  {r['session']:<{width}}  {r['seconds'] / 60:5.1f} min  ({r['seconds']:4.0f} s){disk}")
    print(f"  {'total (the whole command)':<{width}}  {total_s / 60:5.1f} min  ({total_s} s)")
    if total_s > WARN_AFTER_S:
        print(
            f"WARNING: the test matrix took {total_s / 60:.1f} min, past {WARN_AFTER_S // 60} min: "
            "find the session that grew (above) before CI's 90-minute limit is near"
        )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
