//! The owner archive through the library API, on SQLite: import of the same
//! people as UTF-8, GBK, UTF-8 with BOM and xlsx; idempotent re-import; bad
//! rows reported and written to the rejected file; dry run; export and
//! re-import; lookups by phone, room and name.
//!
//! The store is SQLite in a temporary directory; with `HOTLINE_TEST_PG` set
//! to an admin URL (`postgres://postgres@127.0.0.1:5432/postgres`) each test
//! runs on a fresh PostgreSQL database there instead.

mod common;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hotline::desk::AreaCode;
use hotline::desk::archive::{
    Column, ImportOptions, ImportReport, RejectReason, Resident, by_name, by_phone, by_room,
    export_file, import_file,
};
use hotline::store::Store;

const FIXTURES: &str = "tests/fixtures/archive";

struct Bench {
    dir: tempfile::TempDir,
    store: Store,
}

impl Bench {
    async fn new() -> Bench {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = common::open_store(dir.path()).await;
        Bench { dir, store }
    }

    /// A copy of a fixture in the temp dir (the rejected file goes beside it).
    fn fixture(&self, name: &str) -> PathBuf {
        let to = self.dir.path().join(name);
        std::fs::copy(Path::new(FIXTURES).join(name), &to).expect("copy fixture");
        to
    }

    async fn import(&self, path: &Path, dry_run: bool) -> ImportReport {
        import_file(&self.store, path, options(dry_run))
            .await
            .expect("import")
    }
}

fn area() -> AreaCode {
    AreaCode::parse("0871").expect("area code")
}

fn options(dry_run: bool) -> ImportOptions<impl Fn(u64)> {
    ImportOptions {
        dry_run,
        default_area_code: Some(area()),
        community: None,
        now: SystemTime::UNIX_EPOCH,
        progress: |_rows| {},
    }
}

/// What a person is, independent of ids and order.
fn describe(people: &[Resident]) -> Vec<String> {
    let mut out: Vec<String> = people
        .iter()
        .map(|p| {
            let mut rooms: Vec<String> = p
                .residences
                .iter()
                .map(|r| format!("{}:{}:{}", r.address, r.role.label_zh(), r.note))
                .collect();
            rooms.sort();
            let mut phones: Vec<String> = p
                .phones
                .iter()
                .map(|f| format!("{}:{:?}:{}", f.number, f.extension, f.kind))
                .collect();
            phones.sort();
            format!("{}@{} {rooms:?} {phones:?}", p.name, p.community_name)
        })
        .collect();
    out.sort();
    out
}

async fn everyone(store: &Store) -> Vec<String> {
    let mut all = Vec::new();
    for name in ["张三", "李梅", "王五", "赵六"] {
        all.extend(by_name(store, name, None).await.expect("by name"));
    }
    describe(&all)
}

#[tokio::test]
async fn utf8_gbk_bom_and_xlsx_files_import_the_same_people() {
    let mut seen = Vec::new();
    for (file, encoding) in [
        ("good.csv", "UTF-8"),
        ("good-gbk.csv", "GBK"),
        ("good-bom.csv", "UTF-8"),
        ("good.xlsx", "UTF-8"),
    ] {
        let bench = Bench::new().await;
        let report = bench.import(&bench.fixture(file), false).await;
        assert_eq!(report.encoding, encoding, "{file}");
        assert_eq!(report.summary.inserted, 5, "{file}: {:?}", report.rejected);
        assert_eq!(report.summary.rejected, 0, "{file}");
        seen.push((file, everyone(&bench.store).await));
    }
    assert_eq!(
        seen[0].1,
        [
            "张三@金福花园 [\"3栋2单元1201:业主:\", \"5栋301:业主:\"] [\"+8613812345678:None:mobile\", \"+8687165123456:None:landline\"]",
            "李梅@金福花园 [\"3栋2单元1201:家属:张三之妻\"] [\"+8613912345678:None:mobile\", \"+8687165123456:None:landline\"]",
            "王五@金福花园 [\"3栋2单元1202:租户:租期至2026年\"] [\"+8613700001111:None:mobile\"]",
            "赵六@翠湖苑 [\"1栋1单元101:业主:\"] [\"+8687165120000:Some(\\\"8021\\\"):landline\"]",
        ]
    );
    for (file, people) in &seen[1..] {
        assert_eq!(people, &seen[0].1, "{file}");
    }
}

#[tokio::test]
async fn reimporting_the_same_file_changes_nothing() {
    let bench = Bench::new().await;
    let path = bench.fixture("good.csv");
    bench.import(&path, false).await;
    let before = everyone(&bench.store).await;
    let again = bench.import(&path, false).await;
    assert_eq!(
        again.summary.to_string(),
        "inserted 0, updated 0, unchanged 5, rejected 0"
    );
    assert_eq!(everyone(&bench.store).await, before);
    assert!(again.rejected_file.is_none());
}

#[tokio::test]
async fn a_changed_note_or_role_is_an_update() {
    let bench = Bench::new().await;
    bench.import(&bench.fixture("good.csv"), false).await;
    let changed = bench.dir.path().join("changed.csv");
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("good.csv"))
        .expect("read")
        .replace(
            "王五,租户,+86 137 0000 1111,,租期至2026年",
            "王五,业主,+86 137 0000 1111,,已购房",
        );
    std::fs::write(&changed, text).expect("write");
    let report = bench.import(&changed, false).await;
    assert_eq!(
        report.summary.to_string(),
        "inserted 0, updated 1, unchanged 4, rejected 0"
    );
    let wang = by_name(&bench.store, "王五", None).await.expect("by name");
    assert_eq!(wang[0].residences[0].note, "已购房");
    assert_eq!(wang[0].residences[0].role.label_zh(), "业主");
}

#[tokio::test]
async fn every_bad_row_is_reported_and_written_beside_the_input_and_the_good_rows_go_in() {
    // The same rows as LF and CRLF CSV and as a workbook: the same row
    // numbers, the spreadsheet's (the title is row 1, the header row 2).
    for name in ["bad.csv", "bad-crlf.csv", "bad.xlsx"] {
        bad_rows_are_reported_with_the_spreadsheet_row(name).await;
    }
}

async fn bad_rows_are_reported_with_the_spreadsheet_row(name: &str) {
    let bench = Bench::new().await;
    let path = bench.fixture(name);
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let report = bench.import(&path, false).await;
    assert_eq!(
        report.summary.to_string(),
        "inserted 2, updated 0, unchanged 0, rejected 4"
    );
    let rejected: Vec<(u64, Column)> = report.rejected.iter().map(|r| (r.row, r.column)).collect();
    assert_eq!(
        rejected,
        [
            (4, Column::Room),
            (5, Column::Mobile),
            (6, Column::Role),
            (7, Column::Role)
        ],
        "{name}"
    );
    assert_eq!(report.rejected[0].reason, RejectReason::Missing);
    assert!(matches!(
        report.rejected[1].reason,
        RejectReason::Phone { .. }
    ));
    assert_eq!(
        report.rejected[2].reason,
        RejectReason::UnknownRole {
            value: "保姆".into()
        }
    );
    assert_eq!(
        report.rejected[3].reason,
        RejectReason::Conflict { with_row: 3 }
    );

    let file = report.rejected_file.expect("rejected file");
    assert_eq!(
        file,
        bench.dir.path().join(format!("{stem}.rejected.csv")),
        "{name}"
    );
    let bytes = std::fs::read(&file).expect("read rejected");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a BOM for Excel");
    let mut reader = csv::Reader::from_path(&file).expect("open rejected");
    let header = reader.headers().expect("header").clone();
    assert_eq!(
        header.iter().collect::<Vec<_>>(),
        [
            "小区", "楼栋", "单元", "房号", "姓名", "身份", "手机", "电话", "备注", "行号", "列",
            "原因"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(&rows[0][4], "李四");
    assert_eq!((&rows[0][9], &rows[0][10]), ("4", "房号"));
    assert_eq!((&rows[1][9], &rows[1][10]), ("5", "手机"));
    assert_eq!((&rows[3][9], &rows[3][5]), ("7", "租户"));
    assert!(rows[3][11].contains("row 3"), "{}", &rows[3][11]);

    assert_eq!(
        by_name(&bench.store, "孙七", None)
            .await
            .expect("name")
            .len(),
        1
    );
    let zhang = by_name(&bench.store, "张三", None).await.expect("name");
    assert_eq!(zhang[0].residences[0].role.label_zh(), "业主");
    assert!(
        by_name(&bench.store, "李四", None)
            .await
            .expect("name")
            .is_empty()
    );
}

#[tokio::test]
async fn a_dry_run_reports_without_writing() {
    let bench = Bench::new().await;
    let path = bench.fixture("bad.csv");
    let report = bench.import(&path, true).await;
    assert!(report.dry_run);
    assert_eq!(
        report.summary.to_string(),
        "inserted 2, updated 0, unchanged 0, rejected 4"
    );
    assert_eq!(report.rejected.len(), 4);
    assert!(report.rejected_file.is_none());
    assert!(!bench.dir.path().join("bad.rejected.csv").exists());
    assert!(
        by_name(&bench.store, "孙七", None)
            .await
            .expect("name")
            .is_empty()
    );
    assert!(
        bench
            .store
            .communities()
            .await
            .expect("communities")
            .is_empty()
    );
}

#[tokio::test]
async fn an_export_reimports_unchanged() {
    let bench = Bench::new().await;
    bench.import(&bench.fixture("good.csv"), false).await;
    let before = everyone(&bench.store).await;
    let exported = bench.dir.path().join("export.csv");
    assert_eq!(
        export_file(&bench.store, &exported).await.expect("export"),
        5
    );
    let report = bench.import(&exported, false).await;
    assert_eq!(
        report.summary.to_string(),
        "inserted 0, updated 0, unchanged 5, rejected 0"
    );
    assert_eq!(everyone(&bench.store).await, before);
    let fresh = Bench::new().await;
    let copy = fresh.dir.path().join("export.csv");
    std::fs::copy(&exported, &copy).expect("copy");
    fresh.import(&copy, false).await;
    assert_eq!(everyone(&fresh.store).await, before);
}

#[tokio::test]
async fn lookups_find_people_by_phone_room_and_name() {
    let bench = Bench::new().await;
    bench.import(&bench.fixture("good.csv"), false).await;
    let store = &bench.store;
    let names = |people: Vec<Resident>| {
        let mut names: Vec<String> = people.into_iter().map(|p| p.name).collect();
        names.sort();
        names
    };
    let phone = |raw: &'static str, area: Option<AreaCode>| async move {
        names(by_phone(store, raw, area.as_ref()).await.expect("by phone"))
    };
    assert_eq!(phone("+86 138 1234 5678", None).await, ["张三"]);
    assert_eq!(phone("13812345678", None).await, ["张三"]);
    assert_eq!(phone("0871-65123456", None).await, ["张三", "李梅"]);
    assert_eq!(phone("65123456", Some(area())).await, ["张三", "李梅"]);
    assert_eq!(phone("+86 871 6512 0000", None).await, ["赵六"]);
    assert!(phone("13000000000", None).await.is_empty());
    assert!(by_phone(store, "65123456", None).await.is_err());

    for spelling in [
        "3栋2单元1201",
        "3-2-1201",
        "3号楼2单元1201室",
        "三栋二单元1201",
        "３栋２单元１２０１",
    ] {
        let found = by_room(store, spelling, None).await.expect("by room");
        assert_eq!(names(found), ["张三", "李梅"], "{spelling}");
    }
    assert_eq!(
        names(by_room(store, "5栋301", None).await.expect("room")),
        ["张三"]
    );
    assert_eq!(
        names(by_room(store, "3栋1202", None).await.expect("any entrance")),
        ["王五"]
    );
    let communities = bench.store.communities().await.expect("communities");
    let cuihu = communities
        .iter()
        .find(|c| c.name == "翠湖苑")
        .expect("created");
    assert_eq!(
        names(
            by_room(store, "1-1-101", Some(&cuihu.code))
                .await
                .expect("room")
        ),
        ["赵六"]
    );
    assert!(
        by_room(store, "3-2-1201", Some(&cuihu.code))
            .await
            .expect("room")
            .is_empty()
    );

    let zhang = by_name(store, "张三", None).await.expect("name");
    assert_eq!(zhang.len(), 1);
    assert_eq!(zhang[0].residences.len(), 2);
}

#[tokio::test]
async fn an_english_header_and_a_configured_community_code_work_together() {
    let bench = Bench::new().await;
    bench
        .store
        .upsert_community("JF", "金福花园", &["4008123123".to_owned()])
        .await
        .expect("config community");
    let report = bench.import(&bench.fixture("english.csv"), false).await;
    assert_eq!(report.summary.inserted, 1);
    let found = by_phone(&bench.store, "13812345678", None)
        .await
        .expect("phone");
    assert_eq!(
        (found[0].name.as_str(), found[0].community_name.as_str()),
        ("Zhang San", "金福花园")
    );
    assert_eq!(bench.store.communities().await.expect("list").len(), 1);
}

#[tokio::test]
async fn a_cell_with_a_control_character_rejects_its_row_not_the_import() {
    let bench = Bench::new().await;
    let path = bench.dir.path().join("control.csv");
    std::fs::write(
        &path,
        "小区,楼栋,单元,房号,姓名,身份,手机,电话,备注,其他\n\
         金福花园,3,2,1201,张三,业主,13812345678,,\u{0},\n\
         金福花园,3,2,1202,李\u{1b}四,租户,13912345678,,,\n\
         金福花园,3,2,1203,王五,租户,13712345678,,,备\u{0}忘\n",
    )
    .expect("write CSV");
    let report = bench.import(&path, false).await;
    assert_eq!(
        (report.summary.inserted, report.summary.rejected),
        (1, 2),
        "{report:?}"
    );
    let rejected: Vec<(u64, Column)> = report.rejected.iter().map(|r| (r.row, r.column)).collect();
    assert_eq!(rejected, [(2, Column::Note), (3, Column::Name)]);
    for row in &report.rejected {
        assert!(
            matches!(row.reason, RejectReason::ControlCharacter),
            "{row:?}"
        );
        assert!(row.reason.to_string().contains("控制字符"), "{row}");
    }
    assert_eq!(
        by_name(&bench.store, "王五", None)
            .await
            .expect("name")
            .len(),
        1
    );
}

#[tokio::test]
async fn a_repeat_with_only_another_note_joins_the_notes_and_an_exact_repeat_is_unchanged() {
    let bench = Bench::new().await;
    let path = bench.dir.path().join("repeats.csv");
    std::fs::write(
        &path,
        "小区,楼栋,单元,房号,姓名,身份,手机,电话,备注\n\
         金福花园,3,2,1201,张三,业主,13812345678,,钥匙在物业\n\
         金福花园,3,2,1201,张三,业主,13812345678,,钥匙在物业\n\
         金福花园,3,2,1201,张三,业主,13812345678,,周末在家\n\
         金福花园,3,2,1201,张三,租户,13812345678,,\n\
         金福花园,3,2,1202,李四,租户,13912345678,,\n\
         金福花园,3,2,1202,李四,租户,13912345678,,\n",
    )
    .expect("write CSV");
    let report = bench.import(&path, false).await;
    assert_eq!(
        report.summary.to_string(),
        "inserted 2, updated 0, unchanged 3, rejected 1"
    );
    assert_eq!(
        (report.rejected[0].row, report.rejected[0].column),
        (5, Column::Role)
    );
    assert_eq!(
        report.rejected[0].reason,
        RejectReason::Conflict { with_row: 2 }
    );
    let zhang = by_name(&bench.store, "张三", None).await.expect("name");
    assert_eq!(zhang[0].residences[0].note, "钥匙在物业；周末在家");
    let again = bench.import(&path, false).await;
    assert_eq!(
        again.summary.to_string(),
        "inserted 0, updated 0, unchanged 5, rejected 1"
    );
}
