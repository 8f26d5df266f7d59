"""The labelled story set: hand-made clusters of real news days (written before any tuning),
and the script that writes them with their entries to tests/fixtures/stories/. Run once from
the repository root, with ../shared present:

    python -m bench.story_labels
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "stories"
STREAMS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "news-streams"
RSS_2022 = (
    STREAMS / "rumca-js-RSS-Link-Database-2022" / "entries_2022-01_to_08_non_youtube.jsonl.gz"
)
RSS_2024 = STREAMS / "rumca-js-RSS-Link-Database-2024-modi-moscow" / "entries.jsonl"
FIRST_TV = STREAMS / "1tv-ru-2024-2025" / "chunk_2024.csv.gz"
# day -> (entry numbers of that day's BBC, CNN and Guardian entries in feed-file order, reason).
# Every entry not listed is a story of its own.
DAYS: dict[str, list[tuple[list[int], str]]] = {
    "2022-06-23": [
        ([2, 110], "record 215lb Burmese python captured in Florida"),
        ([6, 45], "EIU liveability ranking 2022: Vienna top"),
        (
            [26, 41, 123, 129],
            "coach rescues artistic swimmer Anita Alvarez who fainted in the pool",
        ),
        ([46, 54], "Martin Lewis says the Lords rejected his peerage application"),
        ([20, 95], "prosecutors ask for a 30-year-plus sentence for Ghislaine Maxwell"),
        ([47, 61], "Zelensky: Russia aims to destroy Donbas cities (article and live page)"),
        ([115, 117], "EU grants Ukraine candidate status (report and round-up)"),
        ([63, 64], "40 years since the killing of Vincent Chin"),
        (
            [60, 76, 71, 81],
            "second day of the UK rail strike: disruption, Paddington/Glastonbury queues",
        ),
        ([56, 79, 89, 103, 127], "Afghanistan earthquake: toll, aid appeals, survivors, clinics"),
        ([75, 86], "Germany triggers gas emergency 'alarm' stage after Russian cuts"),
        ([101, 124], "first official joint portrait of William and Kate unveiled"),
        ([121, 130, 131, 133], "fifth January 6 hearing (DOJ officials, Trump call notes)"),
        ([111, 116, 128], "Alex Holder documentary footage of Trump family handed to Jan 6 panel"),
        ([100, 125], "Supreme Court strikes down New York concealed-carry law"),
        ([73, 85, 99], "England v New Zealand third Test, first day (wickets)"),
        ([8, 18], "Guardian article and podcast on reintroducing wolves (Yellowstone)"),
    ],
    "2022-06-29": [
        ([2, 126], "Air New Zealand economy bunk beds"),
        ([10, 128], "Philippines orders Maria Ressa's Rappler shut down"),
        ([4, 9, 17, 133, 136], "Cassidy Hutchinson's January 6 testimony and the reactions to it"),
        ([43, 60, 99], "Russian missile strike on Kremenchuk shopping mall (survivors, CCTV)"),
        (
            [106, 109, 118, 129],
            "NATO formally invites Sweden and Finland after Turkey drops objection",
        ),
        ([1, 57, 66, 97], "death of Dame Deborah James: obituary, tributes, her fundraising"),
        ([41, 92], "man charged with the murder of Zara Aleena"),
        ([59, 93, 132], "Paris attacks trial verdicts, Salah Abdeslam sentenced"),
        ([90, 112], "Carson Pickett first player with a limb difference to play for the USWNT"),
        ([75, 87], "Sturgeon's plan for a second independence referendum and the mandate row"),
        ([48, 121], "UK defence spending: Wallace's call and whether the pledge is kept"),
        ([84, 127], "Wimbledon 2022 day three"),
        ([86, 88], "England v South Africa women's Test, day three (Sciver 150)"),
        (
            [3, 28, 74],
            "51 migrants found dead in a truck in San Antonio: charges, mourning, comment",
        ),
        (
            [123, 131],
            "Breyer retires and Ketanji Brown Jackson joins the Supreme Court on Thursday",
        ),
        ([45, 98], "UK Finance annual fraud report: £1.3bn lost, WhatsApp scams"),
    ],
    "2022-07-19": [
        ([14, 28, 56], "Laura Muir wins 1500m bronze at the World Athletics Championships"),
        ([66, 84, 87], "ONS: UK real pay falls at the fastest rate on record"),
        ([15, 65, 68, 88, 89, 90], "European heatwave: wildfires and the UK's record temperatures"),
        ([32, 96], "Australia's state of the environment report: shocking decline"),
        ([63, 79], "Putin travels to Tehran to meet Iran's leaders and Erdogan"),
        ([59, 125], "Tory leadership race: the next ballot of MPs"),
    ],
    "2022-08-31": [
        (
            [1, 7, 24, 32, 33, 48, 49, 56, 103, 104, 111],
            "death of Mikhail Gorbachev: obituaries, pictures, tributes, legacy",
        ),
        ([6, 12, 16], "25 years since the death of Princess Diana"),
        ([46, 50, 55], "the Queen will appoint the next PM at Balmoral"),
        ([45, 85], "toddler killed by giant hailstone in Spain"),
        ([95, 106], "Micky Dolenz sues the FBI for the Monkees' file"),
        (
            [22, 57, 69, 79, 76],
            "DOJ filing on the Mar-a-Lago documents and Trump's special master bid",
        ),
        ([21, 86, 98], "Pakistan floods: extent of the devastation and disease warnings"),
        ([13, 126], "final hustings of the Truss v Sunak Tory leadership race"),
        ([138, 144, 145], "Marmot/IHE warning: cold homes this winter will harm children's health"),
        ([65, 67], "reviews of The Rings of Power premiere"),
        ([129, 148], "Liverpool's late win over Newcastle"),
        ([60, 88], "Ukrainian families caught in the battle for the south (video and article)"),
    ],
    "2022-02-01": [
        ([9, 16, 77, 101], "New York Times buys Wordle"),
        ([29, 75, 120], "Whoopi Goldberg's Holocaust remarks and apology"),
        ([7, 48], "MMR vaccination rates in England at a 10-year low"),
        ([76, 85, 89], "Nationwide: strongest January house price growth since 2005"),
        ([87, 108], "Walking Dead actor Moses J Moseley dies at 31"),
        ([114, 127], "Tom Brady retires"),
        ([86, 115], "Denmark lifts all Covid restrictions"),
        ([17, 139], "Boris Johnson visits Ukraine as invasion fears rise"),
        (
            [28, 30, 35, 96, 47],
            "Sue Gray's report on Downing Street parties and the reactions to it",
        ),
        ([8, 112], "Russia's written reply to the US on Ukraine, and the 'mix-up' over it"),
        ([24, 72], "US and Russia clash over Ukraine at the UN Security Council"),
        ([33, 53, 123], "one year since Myanmar's military coup"),
        ([25, 42, 129], "Lunar New Year: the Year of the Tiger begins"),
        ([80, 137], "BBC Three returns as a TV channel"),
    ],
}
HELD_OUT = "2022-02-01"


# 1tv.ru titles of 8-9 July 2024 against English feeds of the same days: (keys, reason).
# A key is "1tv:<news id>" or the end of an English entry's link.
BILINGUAL: list[tuple[list[str], str]] = [
    (
        [
            "1tv:480366",
            "1tv:480435",
            "a85637",
            "a85637",
            "a85656",
            "russia-india-putin-modi-moscow",
        ],
        "Modi's visit to Putin in Moscow, 8-9 July 2024",
    ),
    (
        [
            "1tv:480362",
            "a85635",
        ],
        "FSB says it foiled a Ukrainian/NATO plot to hijack a Tu-22 bomber",
    ),
    (
        [
            "1tv:480373",
            "france-election-polling-surprise-result",
            "214447173777",
            "13175395",
        ],
        "surprise result of the French parliamentary run-off",
    ),
    (
        [
            "1tv:480431",
            "a85650",
        ],
        "EU halts Georgia's accession process",
    ),
    (
        [
            "1tv:480434",
            "nato-biden-ukraine-membership",
            "a85651",
        ],
        "NATO's anniversary summit opens in Washington",
    ),
    (
        [
            "1tv:480438",
            "a85648",
        ],
        "Russia says its air defences downed a mass Ukrainian drone attack overnight",
    ),
    (["1tv:480370", "1tv:480423"], "Innoprom-2024 industrial fair in Yekaterinburg"),
    (
        [
            "a85647",
            "a85643",
            "a85644",
            "a85640",
            "a85640",
            "a85654",
            "214446661874",
            "kyiv-childrens-hospital-missile-strike",
            "13175798",
            "13175791",
            "13175572",
        ],
        "Russian missile strike on Kyiv's Okhmatdyt children's hospital, 8 July 2024",
    ),
    (
        [
            "a85662",
            "13175701",
        ],
        "Russian court orders Yulia Navalnaya's arrest in absentia",
    ),
    (
        [
            "214448709775",
            "barcelona-anti-tourism-protest-water-guns",
        ],
        "anti-tourism protest in Barcelona",
    ),
]

OUTLETS = {"bbc": "BBC News", "cnn": "CNN", "gu": "The Guardian"}


def outlet(source: str) -> str | None:
    if "bbci" in source and "technology" not in source:
        return "bbc"
    if "cnn" in source:
        return "cnn"
    if "guardian" in source:
        return "gu"
    return None


def write_days(clusters: list[tuple[str, str]]) -> None:
    by_day: dict[str, list[dict]] = {day: [] for day in DAYS}
    with gzip.open(RSS_2022, "rt") as f:
        for line in f:
            entry = json.loads(line)
            short = outlet(entry["source"])
            day = entry["date_published"][:10]
            if short and day in by_day:
                by_day[day].append({**entry, "_outlet": short})
    with open(HERE / "days.jsonl", "w") as out:
        for day, entries in by_day.items():
            member = {n: f"{day}/c{k:02d}" for k, (ns, _) in enumerate(DAYS[day]) for n in ns}
            clusters += [(f"{day}/c{k:02d}", reason) for k, (_, reason) in enumerate(DAYS[day])]
            for n, entry in enumerate(entries):
                row = {
                    "day": day,
                    "n": n,
                    "held_out": day == HELD_OUT,
                    "outlet": OUTLETS[entry["_outlet"]],
                    "feed": entry["source"],
                    "published": entry["date_published"],
                    "title": entry["title"],
                    "description": entry["description"] or "",
                    "link": entry["link"],
                    "language": "en",
                    "cluster": member.get(n, f"{day}/s{n:03d}"),
                }
                out.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_bilingual(clusters: list[tuple[str, str]]) -> None:
    member = {key: f"bi/c{k:02d}" for k, (keys, _) in enumerate(BILINGUAL) for key in keys}

    def cluster_of(key: str) -> str | None:
        return next((c for tail, c in member.items() if key.endswith(tail)), None)

    clusters += [(f"bi/c{k:02d}", reason) for k, (_, reason) in enumerate(BILINGUAL)]
    rows = []
    with gzip.open(FIRST_TV, "rt") as f:
        for record in csv.DictReader(f):
            found = re.search(r"/news/(2024-07-0[89])/(\d+)-", record["url"])
            if found is None or record["title"].startswith("Выпуск программы"):
                continue
            key = "1tv:" + found.group(2)
            rows.append(
                {
                    "key": key,
                    "outlet": "Первый канал",
                    "feed": "https://www.1tv.ru/news",
                    "published": found.group(1) + " 12:00:00+03:00",
                    "title": record["title"],
                    "description": "",  # the scrape's text is unreliable (see its SOURCE.md)
                    "link": record["url"],
                    "language": "ru",
                }
            )
    with open(RSS_2024) as f:
        for line in f:
            entry = json.loads(line)
            rows.append(
                {
                    "key": entry["link"],
                    "outlet": entry["feed"].split("/")[2],
                    "feed": entry["feed"],
                    "published": entry["published"],
                    "title": entry["title"],
                    "description": entry.get("summary") or "",
                    "link": entry["link"],
                    "language": "en",
                }
            )
    with open(HERE / "bilingual.jsonl", "w") as out:
        for row in rows:
            row["cluster"] = cluster_of(row["key"]) or "bi/s:" + row["key"]
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    missing = {t for t in member if not any(r["key"].endswith(t) for r in rows)}
    assert not missing, missing


def main() -> None:
    clusters: list[tuple[str, str]] = []
    write_days(clusters)
    write_bilingual(clusters)
    with open(HERE / "clusters.tsv", "w") as out:
        out.write("cluster\treason\n")
        for cluster, reason in clusters:
            out.write(f"{cluster}\t{reason}\n")


if __name__ == "__main__":
    main()
