//! Photos: uploading one to the caller's post (checked and re-encoded off the async threads),
//! and serving one as a picture and nothing else.

use campus_proto::board::v1 as pb;
use campus_proto::google::api::HttpBody;
use campus_shared::db::now_micros;
use campus_shared::error::{Error, Result};
use campus_shared::id::next_id;
use campus_shared::identity::Caller;
use tonic::Response;

use super::BoardApi;
use crate::domain::{self, photo, reason};
use crate::store;

/// The response headers of a served photo (the gateway copies them onto the HTTP answer).
const PHOTO_HEADERS: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", "sandbox"),
    ("content-disposition", "inline"),
];

/// Served as a picture and nothing else: no sniffing it into HTML, no scripts or same-origin
/// rights even if a browser renders it as a document.
pub(super) fn serve_as_picture(response: &mut Response<HttpBody>) {
    for (name, value) in PHOTO_HEADERS {
        response.metadata_mut().insert(*name, tonic::metadata::MetadataValue::from_static(value));
    }
}

impl BoardApi {
    pub(super) async fn upload_photo(
        &self,
        caller: &Caller,
        req: pb::UploadPhotoRequest,
    ) -> Result<pb::Photo> {
        let meta = self.own_post(caller, req.post_id).await?;
        let upload = req.photo.unwrap_or_default().data;
        let photo = {
            let _permit = self.inner.decoding.acquire().await.map_err(|e| Error::internal(e.to_string()))?;
            tokio::task::spawn_blocking(move || photo::prepare(upload))
                .await
                .map_err(|e| Error::internal(format!("photo task: {e}")))??
        };
        let content_type = photo.content_type;
        let too_many = || {
            Error::failed_precondition(
                reason::TOO_MANY_PHOTOS,
                format!("a post may have at most {} photos", domain::MAX_PHOTOS_PER_POST),
            )
        };
        if meta.photo_count >= domain::MAX_PHOTOS_PER_POST {
            return Err(too_many());
        }
        let id = next_id();
        let size = photo.bytes.len() as i64;
        // The bytes go first so a committed row always has its bytes; a failed transaction
        // removes them again.
        self.inner.blobs.put(id, photo.bytes).await.map_err(|e| Error::Internal(Box::new(e)))?;
        let saved = async {
            let mut tx = self.db().begin_write().await?;
            if !store::count_photo(&mut tx, meta.id, id, domain::MAX_PHOTOS_PER_POST).await? {
                return Err(too_many());
            }
            let row = store::NewPhotoRow {
                id,
                post_id: meta.id,
                owner_id: caller.user_id,
                content_type,
                size_bytes: size,
                now: now_micros(),
            };
            store::insert_photo(&mut tx, &row).await?;
            tx.commit().await?;
            self.inner.first_pages.forget_post(meta.id);
            Ok(())
        }
        .await;
        if let Err(e) = saved {
            if let Err(cleanup) = self.inner.blobs.delete(id).await {
                tracing::warn!(error = %cleanup, photo_id = id, "could not remove the bytes of a refused photo");
            }
            return Err(e);
        }
        Ok(pb::Photo { id, url: format!("/v1/photos/{id}"), content_type: content_type.into() })
    }

    pub(super) async fn get_photo(&self, caller: &Caller, req: pb::GetPhotoRequest) -> Result<HttpBody> {
        let id = domain::id("id", req.id)?;
        let content_type = store::photo_type(&self.db().pool, caller.school_id, id)
            .await?
            .ok_or(Error::NotFound("photo"))?;
        let data = self.inner.blobs.get(id).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => Error::NotFound("photo"),
            e => Error::Internal(Box::new(e)),
        })?;
        Ok(HttpBody { content_type, data, extensions: Vec::new() })
    }
}
