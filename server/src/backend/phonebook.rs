//! The phonebook port: numbers normalised to E.164 (the lead importer's normaliser; numbers
//! without a country code are read as North American), entries reached only through their
//! owner (roles are the server functions' to check).

use app::model::phonebook::{PhonebookEntry, PhonebookEntryId};
use app::model::{ApiError, Name, UserId};
use app::ports::Phonebook;

use super::internal;
use crate::db::{self, Db};
use crate::lead::import::{country_id, normalise_phone};

pub struct PhonebookBackend {
    db: Db,
}

impl PhonebookBackend {
    pub fn new(db: Db) -> PhonebookBackend {
        PhonebookBackend { db }
    }
}

fn gone() -> ApiError {
    ApiError::NotFound("That phonebook entry does not exist (any more).".into())
}

#[async_trait::async_trait]
impl Phonebook for PhonebookBackend {
    async fn list(&self, viewer: UserId) -> Result<Vec<PhonebookEntry>, ApiError> {
        db::phonebook::list(&self.db, viewer)
            .await
            .map_err(|e| internal("listing the phonebook", e))
    }

    async fn save(
        &self,
        owner: Option<UserId>,
        id: Option<PhonebookEntryId>,
        name: Name,
        phone: &str,
        note: String,
    ) -> Result<PhonebookEntryId, ApiError> {
        let country = country_id("US").map_err(|e| internal("the phonebook's country", e))?;
        let phone = normalise_phone(phone, country).map_err(|m| ApiError::invalid("phone", m))?;
        let now = db::now_ms();
        match id {
            None => db::phonebook::insert(&self.db, owner, &name, &phone, &note, now)
                .await
                .map_err(|e| internal("adding a phonebook entry", e)),
            Some(id) => {
                let changed = db::phonebook::update(&self.db, owner, id, &name, &phone, &note, now)
                    .await
                    .map_err(|e| internal("changing a phonebook entry", e))?;
                if changed { Ok(id) } else { Err(gone()) }
            }
        }
    }

    async fn delete(&self, owner: Option<UserId>, id: PhonebookEntryId) -> Result<(), ApiError> {
        let deleted = db::phonebook::delete(&self.db, owner, id)
            .await
            .map_err(|e| internal("deleting a phonebook entry", e))?;
        if deleted { Ok(()) } else { Err(gone()) }
    }
}
