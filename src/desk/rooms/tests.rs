use super::*;

fn parsed(text: &str) -> String {
    RoomAddress::parse(text)
        .unwrap_or_else(|e| panic!("{text:?} refused: {e}"))
        .to_string()
}

fn refused(text: &str) -> RoomError {
    match RoomAddress::parse(text) {
        Ok(address) => panic!("{text:?} accepted as {address}"),
        Err(err) => err,
    }
}

#[test]
fn the_usual_ways_of_writing_a_room_with_entrance_read_the_same() {
    for text in [
        "3栋2单元1201",
        "3号楼2单元1201室",
        "3号楼2单元1201",
        "3-2-1201",
        "3/2/1201",
        "3幢2单元1201",
        "3棟2單元1201",
        "3栋2单元1201号",
        "3栋2单元1201房",
        "3 栋 2 单元 1201",
        "３栋２单元１２０１",
        "３－２－１２０１",
        "三栋二单元1201",
        "3栋二单元1201室",
        "03栋02单元1201",
        "3#2单元1201",
        "3#-2-1201",
        "3#楼2单元1201",
        "3栋-2单元-1201",
        "3栋2-1201",
        " 3栋2单元1201 ",
    ] {
        assert_eq!(parsed(text), "3栋2单元1201", "{text:?}");
    }
}

#[test]
fn a_room_without_entrance_is_shown_without_one() {
    for (text, canonical) in [
        ("B座1201", "B栋1201"),
        ("b座1201室", "B栋1201"),
        ("Ｂ座１２０１", "B栋1201"),
        ("3栋1201", "3栋1201"),
        ("3号楼1201", "3栋1201"),
        ("3-1201", "3栋1201"),
        ("A1栋502", "A1栋502"),
    ] {
        let address = RoomAddress::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(address.entrance(), None, "{text:?}");
        assert_eq!(address.to_string(), canonical, "{text:?}");
    }
}

#[test]
fn chinese_numerals_above_ten_are_read_as_numbers() {
    assert_eq!(parsed("十二栋三单元502"), "12栋3单元502");
    assert_eq!(parsed("二十三栋一单元101"), "23栋1单元101");
    assert_eq!(parsed("十栋十单元101"), "10栋10单元101");
    assert_eq!(parsed("一百零五栋两单元101"), "105栋2单元101");
    assert_eq!(parsed("一二栋1单元101"), "12栋1单元101");
}

#[test]
fn the_parts_are_available_one_by_one() {
    let address = RoomAddress::parse("3号楼2单元1201室").expect("valid");
    assert_eq!(address.building(), "3");
    assert_eq!(address.entrance(), Some(2));
    assert_eq!(address.room(), "1201");
    assert_eq!(RoomAddress::new("3", Some(2), "1201"), Ok(address));
}

#[test]
fn an_address_built_from_import_columns_is_checked() {
    assert_eq!(
        RoomAddress::new("三", None, "１２０１").map(|a| a.to_string()),
        Ok("3栋1201".to_owned())
    );
    assert!(RoomAddress::new("3", Some(0), "1201").is_err());
    assert!(RoomAddress::new("3", Some(100), "1201").is_err());
    assert!(RoomAddress::new("", None, "1201").is_err());
    assert!(RoomAddress::new("3", None, "").is_err());
}

#[test]
fn addresses_serialise_as_their_canonical_text() {
    let address = RoomAddress::parse("3-2-1201").expect("valid");
    let json = serde_json::to_string(&address).expect("serialises");
    assert_eq!(json, "\"3栋2单元1201\"");
    let back: RoomAddress = serde_json::from_str(&json).expect("round trip");
    assert_eq!(back, address);
    assert!(serde_json::from_str::<RoomAddress>("\"1201\"").is_err());
}

#[test]
fn an_empty_address_is_refused() {
    assert_eq!(refused(""), RoomError::Empty);
    assert_eq!(refused("  "), RoomError::Empty);
    assert_eq!(refused("--"), RoomError::Empty);
}

#[test]
fn an_address_without_building_is_refused() {
    assert_eq!(refused("1201"), RoomError::MissingBuilding);
    assert_eq!(refused("1201室"), RoomError::MissingBuilding);
    assert_eq!(refused("2单元1201"), RoomError::MissingBuilding);
}

#[test]
fn an_address_without_room_is_refused() {
    assert_eq!(refused("3栋"), RoomError::MissingRoom);
    assert_eq!(refused("3栋2单元"), RoomError::MissingRoom);
    assert_eq!(refused("3号楼"), RoomError::MissingRoom);
}

#[test]
fn too_many_parts_are_refused() {
    assert_eq!(refused("3-2-12-01"), RoomError::TooManyParts { parts: 4 });
}

#[test]
fn markers_out_of_place_or_without_a_number_are_refused() {
    assert_eq!(
        refused("栋1201"),
        RoomError::MarkerWithoutValue { marker: "栋" }
    );
    assert_eq!(
        refused("3栋2单元#"),
        RoomError::MarkerWithoutValue { marker: "#" }
    );
    assert_eq!(
        refused("3单元2栋1201"),
        RoomError::MarkerOutOfPlace { marker: "单元" }
    );
    assert_eq!(
        refused("3栋2单元1201室5"),
        RoomError::MarkerOutOfPlace { marker: "室" }
    );
}

#[test]
fn bad_parts_are_named() {
    assert_eq!(
        refused("3栋A单元1201"),
        RoomError::InvalidEntrance {
            value: "A".to_owned()
        }
    );
    assert_eq!(
        refused("3栋0单元1201"),
        RoomError::InvalidEntrance {
            value: "0".to_owned()
        }
    );
    assert_eq!(
        refused("3栋2单元一二〇一"),
        RoomError::InvalidRoom {
            value: "一二〇一".to_owned()
        }
    );
    assert_eq!(
        refused("三A栋1201"),
        RoomError::InvalidBuilding {
            value: "三A".to_owned()
        }
    );
    assert_eq!(
        refused("3栋ABC"),
        RoomError::InvalidRoom {
            value: "ABC".to_owned()
        }
    );
    assert_eq!(
        refused("123456789栋1201"),
        RoomError::InvalidBuilding {
            value: "123456789".to_owned()
        }
    );
}

#[test]
fn stray_characters_and_floors_are_refused() {
    assert_eq!(
        refused("3栋2单元1201@"),
        RoomError::UnexpectedCharacter { ch: '@' }
    );
    // `3楼` is a floor, not a building.
    assert_eq!(
        refused("3楼1201"),
        RoomError::UnexpectedCharacter { ch: '楼' }
    );
    assert_eq!(
        refused("俊发城3栋1201"),
        RoomError::UnexpectedCharacter { ch: '俊' }
    );
}

#[test]
fn any_mix_of_address_fragments_is_read_or_refused_without_panic_and_canonical_forms_are_stable() {
    fn go(fragments: &[&str], left: usize, text: &mut String, accepted: &mut usize) {
        if let Ok(address) = RoomAddress::parse(text) {
            *accepted += 1;
            let again = RoomAddress::parse(&address.to_string())
                .unwrap_or_else(|e| panic!("{text:?} → {address} not re-read: {e}"));
            assert_eq!(again, address, "{text:?}");
        }
        if left == 0 {
            return;
        }
        for fragment in fragments {
            let before = text.len();
            text.push_str(fragment);
            go(fragments, left - 1, text, accepted);
            text.truncate(before);
        }
    }
    let fragments = [
        "3", "三", "十", "二", "栋", "号楼", "座", "b", "单元", "-", "1201", "室", "号", "#", " ",
        "０", "/",
    ];
    let mut accepted = 0;
    go(&fragments, 4, &mut String::new(), &mut accepted);
    assert!(accepted > 1000, "only {accepted} accepted");
}
