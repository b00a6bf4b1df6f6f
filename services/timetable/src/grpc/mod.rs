//! The gRPC surface. Each RPC is a one-line method of the service trait here, which hands
//! the caller and the request to a handler in the module of its resource ([`lectures`],
//! [`timetables`], [`reviews`], [`grades`]). A handler parses the request into domain
//! values, opens and commits the transaction, asks [`crate::domain`] to decide, has
//! [`crate::store`] run the SQL, and maps the answer to protobuf; [`reply`] turns its shared
//! `Result` into the gRPC answer.

mod grades;
mod lectures;
mod reviews;
mod timetables;

use std::time::Duration;

use campus_proto::account::v1::AreFriendsRequest;
use campus_proto::account::v1::account_internal_service_client::AccountInternalServiceClient;
use campus_proto::timetable::v1::timetable_service_server::TimetableService;
use campus_proto::timetable::v1::{
    AddCustomEntryRequest, AddTimetableLectureRequest, CreateLectureReviewRequest, CreateTimetableRequest,
    DeleteLectureReviewRequest, DeleteTimetableRequest, GetFriendTimetableRequest, GetGradesRequest,
    GetLectureRatingRequest, GetLectureRequest, GetTimetableRequest, Grades, ImportLecturesRequest,
    ImportLecturesResponse, Lecture, LectureRating, ListLectureReviewsRequest, ListLectureReviewsResponse,
    ListLecturesRequest, ListLecturesResponse, ListTimetablesRequest, ListTimetablesResponse,
    RemoveCustomEntryRequest, RemoveTimetableLectureRequest, Review, SetSemesterGradesRequest, Timetable,
    UpdateLectureReviewRequest, UpdateTimetableRequest,
};
use campus_shared::db::Db;
use campus_shared::error::{Error, Reply, Violations, reply};
use campus_shared::identity::forward_metadata;
use campus_shared::page::PageTokens;
use campus_shared::{Caller, Result};
use secrecy::{ExposeSecret, SecretString};
use tonic::Request;
use tonic::transport::Channel;

use crate::domain;

/// How long a friendship check may take before the account service counts as unavailable.
const ACCOUNT_TIMEOUT: Duration = Duration::from_secs(3);

/// The state every RPC shares.
#[derive(Debug, Clone)]
pub(crate) struct TimetableApi {
    db: Db,
    tokens: PageTokens,
    account: AccountInternalServiceClient<Channel>,
    service_token: SecretString,
}

impl TimetableApi {
    /// `account_addr` is the account service's URL (it answers AreFriends).
    pub(crate) fn new(
        db: Db,
        account_addr: &str,
        service_token: SecretString,
        tls: &campus_shared::tls::ClientTls,
    ) -> anyhow::Result<Self> {
        let channel = tls
            .endpoint(account_addr)?
            .connect_timeout(ACCOUNT_TIMEOUT)
            .timeout(ACCOUNT_TIMEOUT)
            .connect_lazy();
        Ok(Self {
            db,
            tokens: PageTokens::new(service_token.expose_secret().as_bytes()),
            account: AccountInternalServiceClient::new(channel),
            service_token,
        })
    }

    /// A pooled connection for reads.
    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.db.pool.acquire().await?)
    }

    /// Asks the account service whether two users are friends.
    async fn are_friends<T>(&self, request: &Request<T>, user_id: i64, other_user_id: i64) -> Result<bool> {
        let mut call = Request::new(AreFriendsRequest { user_id, other_user_id });
        *call.metadata_mut() = forward_metadata(Some(request.metadata()), &self.service_token);
        match self.account.clone().are_friends(call).await {
            Ok(response) => Ok(response.into_inner().friends),
            Err(status) => Err(Error::from_upstream(status, "account")),
        }
    }
}

/// Year and semester of a request, validated.
fn term(year: i32, semester: i32) -> Result<(i64, i64)> {
    let mut v = Violations::new();
    domain::check_term(year, semester, &mut v);
    v.finish()?;
    Ok((i64::from(year), i64::from(semester)))
}

#[tonic::async_trait]
impl TimetableService for TimetableApi {
    async fn list_lectures(&self, request: Request<ListLecturesRequest>) -> Reply<ListLecturesResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_lectures(&caller, request.into_inner()).await)
    }

    async fn get_lecture(&self, request: Request<GetLectureRequest>) -> Reply<Lecture> {
        let caller = Caller::of(&request)?;
        reply(self.get_lecture(&caller, request.into_inner().id).await)
    }

    async fn import_lectures(
        &self,
        request: Request<ImportLecturesRequest>,
    ) -> Reply<ImportLecturesResponse> {
        let admin = Caller::admin_of(&request)?;
        reply(self.import_lectures(&admin, request.into_inner()).await)
    }

    async fn list_timetables(
        &self,
        request: Request<ListTimetablesRequest>,
    ) -> Reply<ListTimetablesResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_timetables(&caller, request.into_inner()).await)
    }

    async fn create_timetable(&self, request: Request<CreateTimetableRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        reply(self.create_timetable(&caller, request.into_inner()).await)
    }

    async fn get_timetable(&self, request: Request<GetTimetableRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        reply(self.get_timetable(&caller, request.into_inner().id).await)
    }

    async fn update_timetable(&self, request: Request<UpdateTimetableRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        reply(self.update_timetable(&caller, request.into_inner()).await)
    }

    async fn delete_timetable(&self, request: Request<DeleteTimetableRequest>) -> Reply<()> {
        let caller = Caller::of(&request)?;
        reply(self.delete_timetable(&caller, request.into_inner().id).await)
    }

    async fn add_timetable_lecture(&self, request: Request<AddTimetableLectureRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        reply(self.add_lecture(&caller, request.into_inner()).await)
    }

    async fn remove_timetable_lecture(
        &self,
        request: Request<RemoveTimetableLectureRequest>,
    ) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        reply(self.remove_lecture(&caller, request.into_inner()).await)
    }

    async fn add_custom_entry(&self, request: Request<AddCustomEntryRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        reply(self.add_entry(&caller, request.into_inner()).await)
    }

    async fn remove_custom_entry(&self, request: Request<RemoveCustomEntryRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        reply(self.remove_entry(&caller, request.into_inner()).await)
    }

    async fn get_friend_timetable(&self, request: Request<GetFriendTimetableRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        reply(self.friend_timetable(&caller, &request).await)
    }

    async fn list_lecture_reviews(
        &self,
        request: Request<ListLectureReviewsRequest>,
    ) -> Reply<ListLectureReviewsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_reviews(&caller, request.into_inner()).await)
    }

    async fn create_lecture_review(&self, request: Request<CreateLectureReviewRequest>) -> Reply<Review> {
        let caller = Caller::of(&request)?;
        reply(self.create_review(&caller, request.into_inner()).await)
    }

    async fn update_lecture_review(&self, request: Request<UpdateLectureReviewRequest>) -> Reply<Review> {
        let caller = Caller::of(&request)?;
        reply(self.update_review(&caller, request.into_inner()).await)
    }

    async fn delete_lecture_review(&self, request: Request<DeleteLectureReviewRequest>) -> Reply<()> {
        let caller = Caller::of(&request)?;
        reply(self.delete_review(&caller, request.into_inner().id).await)
    }

    async fn get_lecture_rating(&self, request: Request<GetLectureRatingRequest>) -> Reply<LectureRating> {
        let caller = Caller::of(&request)?;
        reply(self.rating(&caller, request.into_inner().lecture_id).await)
    }

    async fn get_grades(&self, request: Request<GetGradesRequest>) -> Reply<Grades> {
        let caller = Caller::of(&request)?;
        reply(self.grades(&caller).await)
    }

    async fn set_semester_grades(&self, request: Request<SetSemesterGradesRequest>) -> Reply<Grades> {
        let caller = Caller::of(&request)?;
        reply(self.set_semester_grades(&caller, request.into_inner()).await)
    }
}
