"""export_peak_mb: the peak memory of a process that exports `--rows` ledger rows to Excel,
streamed — the rows come from the database in chunks (yield_per) and go to the workbook one
by one through services.exports.to_xlsx (openpyxl's write-only mode). When that module is
missing (it is being written by someone else), the same is done with openpyxl write_only
directly, and the output says so.

The figure is the process's ru_maxrss (the whole interpreter with the app loaded, not only
the export); the RSS before the export started is given beside it."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from volunteer_app import create_app
from volunteer_app.extensions import db
from volunteer_app.models import OrgUnit, ServiceRecord, User, VolunteerProfile

HEADERS = ["日期", "志愿者", "手机号", "社区", "活动名称", "地点", "服务内容", "时长(分钟)", "状态"]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def ledger_rows(limit: int):
    query = (
        select(
            ServiceRecord.service_date,
            VolunteerProfile.real_name,
            User.phone,
            OrgUnit.name,
            ServiceRecord.activity,
            ServiceRecord.place,
            ServiceRecord.content,
            ServiceRecord.minutes,
            ServiceRecord.status,
        )
        .join(User, User.id == ServiceRecord.user_id)
        .outerjoin(VolunteerProfile, VolunteerProfile.user_id == ServiceRecord.user_id)
        .outerjoin(OrgUnit, OrgUnit.id == ServiceRecord.community_id)
        .order_by(ServiceRecord.id)
        .limit(limit)
        .execution_options(yield_per=2000)
    )
    for (
        date_,
        name,
        phone,
        community,
        activity,
        place,
        content,
        minutes,
        status,
    ) in db.session.execute(query):
        yield (
            date_,
            name,
            f"{phone[:3]}****{phone[-4:]}",
            community,
            activity,
            place,
            content,
            minutes,
            status.value if status is not None else "",
        )


def openpyxl_write_only(headers, rows, title: str) -> bytes:
    import io

    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    try:
        from volunteer_app.services import exports

        writer, how = exports.to_xlsx, "services.exports.to_xlsx"
    except ImportError:
        writer, how = openpyxl_write_only, "openpyxl write_only (services.exports is missing)"
    app = create_app()
    with app.app_context():
        db.session.execute(select(1))  # connected, app loaded: the resting size
        before = rss_mb()
        counted = [0]

        def rows():
            for row in ledger_rows(args.rows):
                counted[0] += 1
                yield row

        started = time.perf_counter()
        body = writer(HEADERS, rows(), title="ledger")
        seconds = time.perf_counter() - started
        args.out.write_bytes(body)
    with zipfile.ZipFile(args.out) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        written, tail = 0, b""
        with archive.open(sheets[0]) as sheet:
            for chunk in iter(lambda: sheet.read(1 << 20), b""):
                # 4 bytes carried over: a tag split across two chunks is counted once
                joined = tail + chunk
                written += joined.count(b"<row ")
                tail = joined[-4:]
    print(
        json.dumps(
            {
                "writer": how,
                "rows": counted[0],
                "rows_in_file": written - 1,  # less the header row
                "bytes": len(body),
                "seconds": round(seconds, 2),
                "rss_before_mb": round(before, 1),
                "peak_mb": round(peak_mb(), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
