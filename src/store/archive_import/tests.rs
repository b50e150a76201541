//! Tests of the archive import, on both engines.

use super::*;
use crate::store::testing;

fn mobile(number: &str, raw: &str) -> StagedPhone {
    StagedPhone {
        number: number.to_owned(),
        extension: String::new(),
        kind: "mobile".to_owned(),
        raw: raw.to_owned(),
    }
}

fn row(row_no: i64, community_id: &str, name: &str, role: &str, note: &str) -> StagedRow {
    StagedRow {
        row_no,
        community_id: community_id.to_owned(),
        building: "3".to_owned(),
        entrance: 2,
        room: "1201".to_owned(),
        name: name.to_owned(),
        identity: format!("tel:+86138{row_no:08}"),
        role: role.to_owned(),
        note: note.to_owned(),
        mobile: Some(mobile(&format!("+86138{row_no:08}"), "138")),
        phone: None,
        record: vec![name.to_owned(), role.to_owned()],
    }
}

async fn import(store: &Store, rows: &[StagedRow], keep: bool) -> ImportCounts {
    let mut import = store.archive_import(1).await.expect("begin");
    let community = import.community_id("金福花园").await.expect("community");
    for r in rows {
        let mut r = r.clone();
        r.community_id = community.clone();
        import.stage(r).await.expect("stage");
    }
    let counts = import.apply().await.expect("apply");
    import.finish(keep).await.expect("finish");
    counts
}

#[tokio::test]
async fn reimporting_the_same_rows_changes_nothing_on_both_engines() {
    for store in testing::stores().await {
        let rows = [
            row(2, "", "张三", "owner", ""),
            row(3, "", "李四", "tenant", ""),
        ];
        let first = import(&store, &rows, true).await;
        assert_eq!((first.inserted, first.unchanged), (2, 0));
        let again = import(&store, &rows, true).await;
        assert_eq!(
            again,
            ImportCounts {
                unchanged: 2,
                ..ImportCounts::default()
            }
        );
        let changed = [row(2, "", "张三", "owner", "新备注")];
        assert_eq!(import(&store, &changed, true).await.updated, 1);
        let found = store
            .archive_by_phone("+8613800000002")
            .await
            .expect("find");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].residences[0].note, "新备注");
    }
}

#[tokio::test]
async fn a_repeated_row_brings_its_other_phone_and_a_person_may_live_in_two_rooms() {
    for store in testing::stores().await {
        let first = row(2, "", "张三", "owner", "");
        // The same person and room again, with a landline as well.
        let repeated = StagedRow {
            row_no: 3,
            phone: Some(StagedPhone {
                number: "+8687165123456".to_owned(),
                extension: String::new(),
                kind: "landline".to_owned(),
                raw: "65123456".to_owned(),
            }),
            ..first.clone()
        };
        // The same person in another room.
        let elsewhere = StagedRow {
            row_no: 4,
            building: "5".to_owned(),
            entrance: 0,
            room: "301".to_owned(),
            role: "tenant".to_owned(),
            ..first.clone()
        };
        let rows = [first, repeated, elsewhere];
        let counts = import(&store, &rows, true).await;
        // The repeated row's phones were new to the archive as it was.
        assert_eq!(
            counts,
            ImportCounts {
                inserted: 2,
                updated: 1,
                ..ImportCounts::default()
            }
        );
        let found = store
            .archive_by_phone("+8687165123456")
            .await
            .expect("find");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].phones.len(), 2);
        let rooms: Vec<(&str, &str)> = found[0]
            .residences
            .iter()
            .map(|r| (r.room.as_str(), r.role.as_str()))
            .collect();
        assert_eq!(rooms, [("1201", "owner"), ("301", "tenant")]);
        let again = import(&store, &rows, true).await;
        assert_eq!(
            again,
            ImportCounts {
                unchanged: 3,
                ..ImportCounts::default()
            }
        );
    }
}

#[tokio::test]
async fn a_contradicting_later_row_is_a_conflict_and_a_dry_run_writes_nothing() {
    for store in testing::stores().await {
        let mut second = row(2, "", "张三", "tenant", "");
        second.row_no = 5;
        let counts = import(&store, &[row(2, "", "张三", "owner", ""), second], false).await;
        assert_eq!((counts.inserted, counts.conflicts), (1, 1));
        assert!(store.communities().await.expect("list").is_empty());
        assert!(
            store
                .archive_by_phone("+8613800000002")
                .await
                .expect("find")
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_repeat_with_another_note_joins_it_and_an_exact_repeat_is_unchanged_on_both_engines() {
    for store in testing::stores().await {
        let again = |row_no, note: &str| StagedRow {
            row_no,
            note: note.to_owned(),
            ..row(2, "", "张三", "owner", "")
        };
        let other_phone = StagedRow {
            row_no: 7,
            phone: Some(mobile("+8687165123456", "65123456")),
            ..row(2, "", "张三", "owner", "钥匙在物业")
        };
        let another_phone = StagedRow {
            row_no: 8,
            phone: Some(mobile("+8687165000000", "65000000")),
            ..row(2, "", "张三", "owner", "")
        };
        let rows = [
            again(2, "钥匙在物业"),
            again(3, "钥匙在物业"),
            again(4, "周末在家"),
            again(5, ""),
            again(6, "周末在家"),
            other_phone,
            another_phone,
        ];
        let mut import = store.archive_import(1).await.expect("begin");
        let community = import.community_id("金福花园").await.expect("community");
        for r in &rows {
            import
                .stage(StagedRow {
                    community_id: community.clone(),
                    ..r.clone()
                })
                .await
                .expect("stage");
        }
        let counts = import.apply().await.expect("apply");
        assert_eq!(
            counts,
            ImportCounts {
                inserted: 1,
                updated: 1,
                unchanged: 4,
                conflicts: 1,
            }
        );
        // Row 7 adds a landline; row 8 gives another one: a conflict.
        let conflicts = import.conflicts(0, 10).await.expect("conflicts");
        assert_eq!(
            (conflicts[0].row_no, conflicts[0].differs),
            (8, ConflictField::Phone)
        );
        import.finish(true).await.expect("finish");
        let found = store
            .archive_by_phone("+8613800000002")
            .await
            .expect("find");
        assert_eq!(found[0].residences[0].note, "钥匙在物业；周末在家");
        // The same file again changes nothing.
        let counts = import_rows(&store, &rows[..6]).await;
        assert_eq!((counts.unchanged, counts.updated), (6, 0));
    }
}

async fn import_rows(store: &Store, rows: &[StagedRow]) -> ImportCounts {
    import(store, rows, true).await
}

#[test]
fn a_text_literal_doubles_its_quotes_and_keeps_backslashes() {
    let mut sql = String::new();
    push_text(&mut sql, r"O'Neil \n ''");
    assert_eq!(sql, r"'O''Neil \n '''''");
}

#[tokio::test]
async fn quotes_backslashes_and_nul_bytes_are_staged_as_received_on_both_engines() {
    for store in testing::stores().await {
        let engine = store.engine();
        let quoted = StagedRow {
            record: vec!["a'b".to_owned(), r"c\d".to_owned()],
            ..row(2, "", r"O'Brien \ 张'", "owner", "it's'); DROP TABLE x; --")
        };
        let mut rows = vec![quoted.clone()];
        // PostgreSQL text cannot hold a NUL at all, bound or not.
        if engine == Engine::Sqlite {
            rows.push(StagedRow {
                record: vec!["nul\0here".to_owned()],
                ..row(3, "", "李四\0", "tenant", "")
            });
        }
        // A contradicting copy of each row brings its record back.
        let copies: Vec<StagedRow> = rows
            .iter()
            .map(|r| StagedRow {
                row_no: r.row_no + 10,
                role: "household".to_owned(),
                note: "other".to_owned(),
                ..r.clone()
            })
            .collect();
        rows.extend(copies);
        let mut import = store.archive_import(1).await.expect("begin");
        let community = import.community_id("金福花园").await.expect("community");
        for r in &rows {
            import
                .stage(StagedRow {
                    community_id: community.clone(),
                    ..r.clone()
                })
                .await
                .expect("stage");
        }
        let counts = import.apply().await.expect("apply");
        assert_eq!(
            counts.conflicts,
            u64::try_from(rows.len() / 2).expect("small")
        );
        let conflicts = import.conflicts(0, 10).await.expect("conflicts");
        assert_eq!(conflicts[0].record, quoted.record);
        if engine == Engine::Sqlite {
            assert_eq!(conflicts[1].record, ["nul\0here"]);
        }
        import.finish(true).await.expect("finish");
        let found = store
            .archive_by_phone("+8613800000002")
            .await
            .expect("find");
        assert_eq!(found[0].name, quoted.name);
        assert_eq!(found[0].residences[0].note, quoted.note);
        if engine == Engine::Sqlite {
            let nul = store
                .archive_by_phone("+8613800000003")
                .await
                .expect("find");
            assert_eq!(nul[0].name, "李四\0");
        }
    }
}

#[tokio::test]
async fn a_configured_community_adopts_the_one_an_import_created() {
    for store in testing::stores().await {
        import(&store, &[row(2, "", "张三", "owner", "")], true).await;
        let created = store.communities().await.expect("list");
        assert_eq!(created[0].code, derived_code("金福花园"));
        let id = store
            .upsert_community("JF", "金福花园", &["4008123123".to_owned()])
            .await
            .expect("upsert");
        let now = store.communities().await.expect("list");
        assert_eq!(now.len(), 1);
        assert_eq!(
            (now[0].id.as_str(), now[0].code.as_str()),
            (id.as_str(), "JF")
        );
        assert_eq!(now[0].numbers, ["4008123123"]);
    }
}
