use super::*;

fn kunming() -> AreaCode {
    AreaCode::parse("0871").expect("valid area code")
}

/// Normalises with Kunming (0871) as the community's area code.
fn norm(raw: &str) -> NormalisedPhone {
    normalise(raw, Some(&kunming())).unwrap_or_else(|e| panic!("{raw:?} refused: {e}"))
}

fn refused(raw: &str) -> PhoneError {
    match normalise(raw, Some(&kunming())) {
        Ok(phone) => panic!("{raw:?} accepted as {phone:?}"),
        Err(err) => err,
    }
}

#[test]
fn mobiles_in_every_usual_shape_become_the_same_e164() {
    for raw in [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "+86-138-1234-5678",
        "(+86) 13812345678",
        "008613812345678",
        "0086 138 1234 5678",
        "8613812345678",
        "013812345678",
        "１３８１２３４５６７８",
        "  138.1234.5678  ",
        "138–1234–5678",
    ] {
        let phone = norm(raw);
        assert_eq!(phone.kind(), PhoneKind::Mobile, "{raw:?}");
        assert_eq!(phone.number(), "+8613812345678", "{raw:?}");
        assert_eq!(phone.extension(), None, "{raw:?}");
    }
}

#[test]
fn every_mobile_prefix_from_13_to_19_is_a_mobile() {
    for prefix in 3..=9 {
        let phone = norm(&format!("1{prefix}912345678"));
        assert_eq!(phone.kind(), PhoneKind::Mobile);
    }
}

#[test]
fn landlines_with_a_three_digit_area_code_keep_it() {
    for raw in [
        "0871-6512 3456",
        "0871-65123456",
        "(0871)65123456",
        "(0871) 6512-3456",
        "+86 871 65123456",
        "+86 (0)871 6512 3456",
        "0086-871-65123456",
        "8687165123456",
        "０８７１－６５１２３４５６",
    ] {
        let phone = norm(raw);
        assert_eq!(phone.kind(), PhoneKind::Landline, "{raw:?}");
        assert_eq!(phone.number(), "+8687165123456", "{raw:?}");
    }
}

#[test]
fn landlines_with_a_two_digit_area_code_keep_it() {
    assert_eq!(norm("010-65123456").number(), "+861065123456");
    assert_eq!(norm("(021)6123 4567").number(), "+862161234567");
    assert_eq!(norm("+86 10 6512 3456").number(), "+861065123456");
    assert_eq!(norm("010-6512-3456").number(), "+861065123456");
}

#[test]
fn a_seven_digit_local_number_is_a_landline_too() {
    let phone = norm("0871-6512345");
    assert_eq!(phone.number(), "+868716512345");
}

#[test]
fn a_local_number_gets_the_communitys_area_code() {
    assert_eq!(norm("65123456").number(), "+8687165123456");
    assert_eq!(norm("6512 3456").number(), "+8687165123456");
    assert_eq!(norm("6512345").number(), "+868716512345");
    let beijing = AreaCode::parse("010").expect("valid");
    let phone = normalise("22345678", Some(&beijing)).expect("valid");
    assert_eq!(phone.number(), "+861022345678");
}

#[test]
fn a_local_number_without_a_configured_area_code_is_refused() {
    assert_eq!(
        normalise("65123456", None),
        Err(PhoneError::MissingAreaCode { digits: 8 })
    );
}

#[test]
fn extensions_are_split_off_whichever_way_they_are_written() {
    for raw in [
        "0871-65123456-8021",
        "0871-65123456转8021",
        "0871-65123456 转 8021",
        "0871-65123456轉8021",
        "0871-65123456分机8021",
        "0871-65123456 ext. 8021",
        "0871-65123456 EXT 8021",
        "0871-65123456x8021",
        "0871-65123456#8021",
        "+8687165123456;ext=8021",
        "65123456转8021",
        "65123456-8021",
    ] {
        let phone = norm(raw);
        assert_eq!(phone.kind(), PhoneKind::Landline, "{raw:?}");
        assert_eq!(phone.number(), "+8687165123456", "{raw:?}");
        assert_eq!(phone.extension(), Some("8021"), "{raw:?}");
        assert_eq!(phone.to_string(), "+8687165123456;ext=8021");
    }
}

#[test]
fn service_numbers_stay_as_they_are_and_are_marked() {
    for (raw, number) in [
        ("4008123123", "4008123123"),
        ("400-812-3123", "4008123123"),
        ("400 812 3123", "4008123123"),
        ("800-810-8888", "8008108888"),
        ("95598", "95598"),
        ("95511", "95511"),
        ("955880", "955880"),
        ("96345", "96345"),
        ("12345", "12345"),
        ("10086", "10086"),
        ("110", "110"),
        ("+86 400 812 3123", "4008123123"),
    ] {
        let phone = norm(raw);
        assert_eq!(phone.kind(), PhoneKind::Service, "{raw:?}");
        assert_eq!(phone.number(), number, "{raw:?}");
        assert_eq!(phone.e164(), None, "{raw:?}");
        assert_eq!(phone.mask(), number, "service numbers are public");
    }
}

#[test]
fn a_service_number_may_carry_an_extension() {
    let phone = norm("400-812-3123转2");
    assert_eq!(
        (phone.number(), phone.extension()),
        ("4008123123", Some("2"))
    );
}

#[test]
fn foreign_numbers_are_kept_in_e164_and_marked_international() {
    let phone = norm("+1 415 555 0100");
    assert_eq!(phone.kind(), PhoneKind::International);
    assert_eq!(phone.number(), "+14155550100");
    let phone = norm("00852 2345 6789");
    assert_eq!(phone.kind(), PhoneKind::International);
    assert_eq!(phone.number(), "+85223456789");
}

#[test]
fn the_received_text_is_kept_trimmed_beside_the_number() {
    let phone = norm("  (0871) 6512-3456 ");
    assert_eq!(phone.received(), "(0871) 6512-3456");
}

#[test]
fn empty_and_blank_numbers_are_refused() {
    assert_eq!(refused(""), PhoneError::Empty);
    assert_eq!(refused("   "), PhoneError::Empty);
    assert_eq!(refused("()- "), PhoneError::Unrecognised { digits: 0 });
}

#[test]
fn letters_and_stray_symbols_are_refused_by_name() {
    assert_eq!(
        refused("138abc45678"),
        PhoneError::InvalidCharacter { ch: 'a' }
    );
    assert_eq!(
        refused("138*1234*5678"),
        PhoneError::InvalidCharacter { ch: '*' }
    );
    assert_eq!(
        refused("手机13812345678"),
        PhoneError::InvalidCharacter { ch: '手' }
    );
}

#[test]
fn a_plus_anywhere_but_the_start_is_refused() {
    assert_eq!(refused("138+12345678"), PhoneError::MisplacedPlus);
    assert_eq!(refused("++8613812345678"), PhoneError::MisplacedPlus);
}

#[test]
fn numbers_of_the_wrong_length_are_refused() {
    assert_eq!(
        refused("1381234567"),
        PhoneError::Unrecognised { digits: 10 }
    );
    assert_eq!(
        refused("138123456789"),
        PhoneError::Unrecognised { digits: 12 }
    );
    assert_eq!(refused("123456"), PhoneError::Unrecognised { digits: 6 });
    assert_eq!(
        refused("23812345678"),
        PhoneError::Unrecognised { digits: 11 }
    );
}

#[test]
fn a_mobile_prefix_that_does_not_exist_is_refused() {
    assert_eq!(
        refused("12812345678"),
        PhoneError::Unrecognised { digits: 11 }
    );
}

#[test]
fn landlines_with_a_bad_area_code_or_local_number_are_refused() {
    assert_eq!(
        refused("011-65123456"),
        PhoneError::InvalidAreaCode {
            area: "011".to_owned()
        }
    );
    assert_eq!(
        refused("0400-869-5598"),
        PhoneError::InvalidAreaCode {
            area: "040".to_owned()
        }
    );
    assert_eq!(
        refused("0871-123"),
        PhoneError::InvalidLocalNumber { digits: 3 }
    );
    assert_eq!(
        refused("0871-05123456"),
        PhoneError::InvalidLocalNumber { digits: 8 }
    );
}

#[test]
fn bad_or_misplaced_extensions_are_refused() {
    assert_eq!(
        refused("0871-65123456转"),
        PhoneError::BadExtension {
            extension: String::new()
        }
    );
    assert_eq!(
        refused("0871-65123456转1234567"),
        PhoneError::BadExtension {
            extension: "1234567".to_owned()
        }
    );
    assert_eq!(
        refused("13812345678转8021"),
        PhoneError::ExtensionNotAllowed {
            kind: PhoneKind::Mobile
        }
    );
    // A dash group after a mobile is not an extension.
    assert_eq!(
        refused("138-1234-5678-21"),
        PhoneError::Unrecognised { digits: 13 }
    );
}

#[test]
fn an_international_number_that_is_too_long_is_refused() {
    assert!(matches!(
        refused("+1234567890123456"),
        PhoneError::InvalidE164 { .. }
    ));
}

#[test]
fn a_mobile_is_masked_as_the_issue_shows() {
    assert_eq!(norm("13812345678").mask(), "+86 138****5678");
    let e164 = E164::parse("+8613812345678").expect("valid");
    assert_eq!(e164.mask(), "+86 138****5678");
    assert_eq!(format!("{e164:?}"), "E164(\"+86 138****5678\")");
}

#[test]
fn landlines_and_foreign_numbers_are_masked_in_the_middle() {
    assert_eq!(norm("0871-65123456").mask(), "+86 871****3456");
    assert_eq!(norm("010-65123456").mask(), "+86 106***3456");
    assert_eq!(norm("+1 415 555 0100").mask(), "+141****0100");
    let debug = format!("{:?}", norm("0871-65123456转8021"));
    assert!(!debug.contains("65123456"), "{debug}");
}

#[test]
fn e164_parse_accepts_only_the_canonical_form() {
    assert!(E164::parse("+8613812345678").is_ok());
    for bad in [
        "8613812345678",
        "+86 138",
        "+0123456789",
        "+86-13812345678",
        "+",
    ] {
        assert!(E164::parse(bad).is_err(), "{bad:?} accepted");
    }
    let json =
        serde_json::to_string(&E164::parse("+8613812345678").expect("valid")).expect("serialises");
    assert_eq!(json, "\"+8613812345678\"");
    assert!(serde_json::from_str::<E164>("\"13812345678\"").is_err());
}

#[test]
fn area_codes_are_read_with_or_without_their_trunk_zero() {
    assert_eq!(AreaCode::parse("0871").map(|a| a.0), Ok("871".to_owned()));
    assert_eq!(AreaCode::parse("871").map(|a| a.0), Ok("871".to_owned()));
    assert_eq!(AreaCode::parse("010").map(|a| a.0), Ok("10".to_owned()));
    assert_eq!(AreaCode::parse("021").map(|a| a.0), Ok("21".to_owned()));
    for bad in ["", "0", "011", "08711", "87", "0x71", "1"] {
        assert!(AreaCode::parse(bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(String::from(kunming()), "0871");
}

/// Every sequence of up to `len` fragments, each passed to `check`.
fn each_combination(fragments: &[&str], len: usize, check: &mut impl FnMut(&str)) {
    fn go(fragments: &[&str], left: usize, text: &mut String, check: &mut impl FnMut(&str)) {
        check(text);
        if left == 0 {
            return;
        }
        for fragment in fragments {
            let before = text.len();
            text.push_str(fragment);
            go(fragments, left - 1, text, check);
            text.truncate(before);
        }
    }
    go(fragments, len, &mut String::new(), check);
}

#[test]
fn any_mix_of_phone_fragments_is_read_or_refused_without_panic_and_canonical_forms_are_stable() {
    let fragments = [
        "+86", "0086", "86", "0", "871", "10", "138", "1234", "5678", "6512", "3456", "-", " ",
        "转", "8021", "(", ")", "400", "95598", "#", "１",
    ];
    let mut accepted = 0;
    each_combination(&fragments, 4, &mut |raw| {
        if let Ok(phone) = normalise(raw, Some(&kunming())) {
            accepted += 1;
            let again = normalise(&phone.to_string(), None)
                .unwrap_or_else(|e| panic!("{raw:?} → {phone} not re-read: {e}"));
            assert_eq!(again.number(), phone.number(), "{raw:?}");
            assert_eq!(again.extension(), phone.extension(), "{raw:?}");
            assert_eq!(again.kind(), phone.kind(), "{raw:?}");
        }
    });
    assert!(accepted > 1000, "only {accepted} accepted");
}
