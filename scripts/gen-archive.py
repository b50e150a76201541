#!/usr/bin/env python3
"""Writes a deterministic owner-archive CSV for the import benchmark.

Usage: scripts/gen-archive.py [ROWS] [OUT]   (default 1000000 rows, stdout)

Columns as `hotline archive import` reads them (小区,楼栋,单元,房号,姓名,身份,
手机,电话,备注). Every room has an owner; about a third of the rows are a
household member or a tenant of the room before, sharing its landline.
Mobile numbers are unique (13xxxxxxxxx from the row number), so row i's
mobile is `+86 13` followed by i in 9 digits: benchmarks can look them up.
"""

import csv
import random
import sys

SEED = 20251123
COMMUNITIES = ["金福花园", "翠湖苑", "锦绣华庭", "阳光城", "春城国际", "滇池明珠", "世纪城", "金碧苑"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
NOTES = ["", "", "", "", "租期至2026年", "常不在家", "老人独居", "装修中"]


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    out = open(sys.argv[2], "w", newline="", encoding="utf-8") if len(sys.argv) > 2 else sys.stdout
    rng = random.Random(SEED)
    writer = csv.writer(out)
    writer.writerow(["小区", "楼栋", "单元", "房号", "姓名", "身份", "手机", "电话", "备注"])
    room_no = 0
    landline = ""
    place = None
    for i in range(rows):
        if place is None or rng.random() > 0.35:
            room_no += 1
            community = COMMUNITIES[room_no % len(COMMUNITIES)]
            n = room_no // len(COMMUNITIES)
            building, rest = divmod(n, 6 * 33 * 4)
            entrance, rest = divmod(rest, 33 * 4)
            floor, unit = divmod(rest, 4)
            place = (community, str(building + 1), str(entrance + 1), f"{floor + 1}{unit + 1:02d}")
            landline = f"0871-6{rng.randrange(10**6, 10**7):07d}" if rng.random() < 0.4 else ""
            role = "业主"
        else:
            role = rng.choice(["家属", "家属", "租户"])
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))
        writer.writerow([*place, name, role, f"13{i:09d}", landline, rng.choice(NOTES)])
    out.flush()


if __name__ == "__main__":
    main()
