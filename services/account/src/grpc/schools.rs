//! Schools: listing them (public), one, and creating one (admins).

use campus_proto::account::v1::*;
use campus_shared::Error;
use campus_shared::db::now_micros;
use campus_shared::error::{Violations, is_unique_violation};
use campus_shared::page::page_size;

use super::{AccountApi, Result};
use crate::domain::{self, Email, EmailDomain};
use crate::store;

fn school_proto(row: store::SchoolRow) -> School {
    School { id: row.id, name: row.name, email_domain: row.email_domain }
}

impl AccountApi {
    /// Adds to `v` what is wrong with signing up at `school_id` with `email`: no school, no
    /// such school, or an address outside the school's domain.
    pub(super) async fn check_school_email(
        &self,
        school_id: i64,
        email: Option<&Email>,
        v: &mut Violations,
    ) -> Result<()> {
        if school_id <= 0 {
            v.add("schoolId", "is required");
            return Ok(());
        }
        match store::school(&mut *self.conn().await?, school_id).await? {
            None => v.add("schoolId", "no such school"),
            Some(school) => {
                if let Some(email) = email.filter(|e| e.domain() != school.email_domain) {
                    v.add(
                        "email",
                        format!("must be an address at @{} (got @{})", school.email_domain, email.domain()),
                    );
                }
            }
        }
        Ok(())
    }

    pub(super) async fn list_schools(&self, req: ListSchoolsRequest) -> Result<ListSchoolsResponse> {
        let size = page_size(req.page_size)?;
        let after = self.pages.decode::<i64>("schools", &req.page_token)?.unwrap_or(i64::MIN);
        let mut rows = store::list_schools(&mut *self.conn().await?, after, size + 1).await?;
        let next_page_token = self.pages.next("schools", &mut rows, size, |s| s.id);
        Ok(ListSchoolsResponse { schools: rows.into_iter().map(school_proto).collect(), next_page_token })
    }

    pub(super) async fn get_school(&self, id: i64) -> Result<School> {
        let row = store::school(&mut *self.conn().await?, id).await?.ok_or(Error::NotFound("school"))?;
        Ok(school_proto(row))
    }

    pub(super) async fn create_school(&self, req: CreateSchoolRequest) -> Result<School> {
        let mut v = Violations::new();
        if let Err(e) = domain::check_school_name(&req.name) {
            v.add("name", e);
        }
        let domain = EmailDomain::parse(&req.email_domain).map_err(|e| v.add("emailDomain", e)).ok();
        v.finish()?;
        let domain = domain.ok_or_else(|| Error::internal("validated domain missing"))?;
        let row = store::SchoolRow {
            id: campus_shared::id::next_id(),
            name: req.name,
            email_domain: domain.as_str().to_owned(),
        };
        let mut tx = self.db.begin_write().await?;
        match store::insert_school(&mut tx, row.id, &row.name, &row.email_domain, now_micros()).await {
            Err(Error::Database(e)) if is_unique_violation(&e) => {
                return Err(Error::already_exists(
                    "SCHOOL_DOMAIN_TAKEN",
                    "a school with this email domain already exists",
                ));
            }
            other => other?,
        }
        tx.commit().await?;
        Ok(school_proto(row))
    }
}
