//! Who is this? The archive looked up by phone (the screen pop's question),
//! by room, or by name; each answer is the people found with all their rooms
//! and phones, in the desk's types.
//!
//! Owns reading the question (the number normalised, the room parsed in
//! any usual spelling); knows nothing of SQL.

use serde::Serialize;

use super::{ArchiveError, Role};
use crate::desk::{AreaCode, PhoneKind, RoomAddress, normalise};
use crate::store::{ArchivePerson, RoomQuery, Store};

/// A person in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Residence {
    pub address: RoomAddress,
    pub role: Role,
    pub note: String,
}

/// A person's phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResidentPhone {
    /// E.164, or the digits of a service number.
    pub number: String,
    pub extension: Option<String>,
    pub kind: PhoneKind,
    /// As it was imported.
    pub received: String,
}

/// A person of the archive with their rooms and phones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resident {
    pub id: String,
    pub name: String,
    pub community_code: String,
    pub community_name: String,
    pub residences: Vec<Residence>,
    pub phones: Vec<ResidentPhone>,
}

/// The people with this number, however it is written (`+86 138…`,
/// `0871-65123456`, or `65123456` with the community's area code).
pub async fn by_phone(
    store: &Store,
    raw: &str,
    area: Option<&AreaCode>,
) -> Result<Vec<Resident>, ArchiveError> {
    let phone = normalise(raw, area)?;
    residents(store.archive_by_phone(phone.number()).await?)
}

/// The people of a room (`3栋2单元1201`, `3-2-1201`, `3号楼2单元1201室`…);
/// without an entrance, the room in any entrance of that building.
pub async fn by_room(
    store: &Store,
    text: &str,
    community_code: Option<&str>,
) -> Result<Vec<Resident>, ArchiveError> {
    let address = RoomAddress::parse(text)?;
    let query = RoomQuery {
        building: address.building(),
        entrance: i64::from(address.entrance().unwrap_or(0)),
        room: address.room(),
        community_code,
    };
    residents(store.archive_by_room(query).await?)
}

/// The people of that exact name.
pub async fn by_name(
    store: &Store,
    name: &str,
    community_code: Option<&str>,
) -> Result<Vec<Resident>, ArchiveError> {
    residents(store.archive_by_name(name.trim(), community_code).await?)
}

fn residents(people: Vec<ArchivePerson>) -> Result<Vec<Resident>, ArchiveError> {
    people.into_iter().map(resident).collect()
}

fn corrupt(what: &'static str, value: &str) -> ArchiveError {
    ArchiveError::CorruptRecord {
        what,
        value: value.to_owned(),
    }
}

fn resident(person: ArchivePerson) -> Result<Resident, ArchiveError> {
    let residences = person
        .residences
        .into_iter()
        .map(|r| {
            let entrance = match r.entrance {
                0 => None,
                n => Some(u16::try_from(n).map_err(|_| corrupt("entrance", &n.to_string()))?),
            };
            Ok(Residence {
                address: RoomAddress::new(&r.building, entrance, &r.room)?,
                role: Role::from_code(&r.role).ok_or_else(|| corrupt("role", &r.role))?,
                note: r.note,
            })
        })
        .collect::<Result<_, ArchiveError>>()?;
    let phones = person
        .phones
        .into_iter()
        .map(|p| {
            Ok(ResidentPhone {
                kind: phone_kind(&p.kind).ok_or_else(|| corrupt("phone kind", &p.kind))?,
                number: p.number,
                extension: Some(p.extension).filter(|e| !e.is_empty()),
                received: p.raw,
            })
        })
        .collect::<Result<_, ArchiveError>>()?;
    Ok(Resident {
        id: person.id,
        name: person.name,
        community_code: person.community_code,
        community_name: person.community_name,
        residences,
        phones,
    })
}

fn phone_kind(code: &str) -> Option<PhoneKind> {
    [
        PhoneKind::Mobile,
        PhoneKind::Landline,
        PhoneKind::Service,
        PhoneKind::International,
    ]
    .into_iter()
    .find(|kind| kind.code() == code)
}
