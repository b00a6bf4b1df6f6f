//! What messaging asks other services: the author of a post or comment (board) and users'
//! profiles (account). Calls carry the user's token, the service credential and the trace
//! context; the answers never leave this service.

use std::time::Duration;

use campus_proto::account::v1::GetUsersRequest;
use campus_proto::account::v1::account_internal_service_client::AccountInternalServiceClient;
use campus_proto::board::v1::GetContentAuthorRequest;
use campus_proto::board::v1::board_internal_service_client::BoardInternalServiceClient;
use campus_proto::board::v1::get_content_author_request::Target as AuthorTarget;
use campus_shared::Error;
use campus_shared::identity::forward_metadata;
use campus_shared::tls::ClientTls;
use secrecy::SecretString;
use tonic::Request;
use tonic::metadata::MetadataMap;
use tonic::transport::Channel;

use crate::domain::{OriginKind, Recipient, Target};

/// How long an upstream call may take before the request fails with UNAVAILABLE.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Clients of the board and account internal services.
#[derive(Debug, Clone)]
pub(crate) struct Upstreams {
    board: BoardInternalServiceClient<Channel>,
    account: AccountInternalServiceClient<Channel>,
    service_token: SecretString,
}

fn channel(url: &str, tls: &ClientTls) -> anyhow::Result<Channel> {
    Ok(tls.endpoint(url)?.connect_timeout(CONNECT_TIMEOUT).timeout(CALL_TIMEOUT).connect_lazy())
}

impl Upstreams {
    pub(crate) fn new(
        board_addr: &str,
        account_addr: &str,
        service_token: SecretString,
        tls: &ClientTls,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            board: BoardInternalServiceClient::new(channel(board_addr, tls)?),
            account: AccountInternalServiceClient::new(channel(account_addr, tls)?),
            service_token,
        })
    }

    fn request<T>(&self, incoming: &MetadataMap, message: T) -> Request<T> {
        let mut request = Request::new(message);
        *request.metadata_mut() = forward_metadata(Some(incoming), &self.service_token);
        request
    }

    /// Who the conversation would be with, and how they are shown: the author of the post or
    /// comment, or the user, with their school and nickname.
    ///
    /// The caller's own profile comes along in the same call: its nickname is fresher than the
    /// one in the token (and a token may lack it).
    pub(crate) async fn recipient(
        &self,
        incoming: &MetadataMap,
        caller_id: i64,
        target: Target,
    ) -> Result<(Recipient, Option<String>), Error> {
        let what = target.kind().resource();
        let (user_id, anonymous, post_id, content_school) = match target {
            Target::User(id) => (id, false, 0, None),
            Target::Post(id) | Target::Comment(id) => {
                let target = if target.kind() == OriginKind::Post {
                    AuthorTarget::PostId(id)
                } else {
                    AuthorTarget::CommentId(id)
                };
                let author = self
                    .board
                    .clone()
                    .get_content_author(
                        self.request(incoming, GetContentAuthorRequest { target: Some(target) }),
                    )
                    .await
                    .map_err(|s| Error::from_upstream(s, "board"))?
                    .into_inner();
                (author.author_id, author.anonymous, author.post_id, Some(author.school_id))
            }
        };
        let users = self
            .account
            .clone()
            .get_users(self.request(incoming, GetUsersRequest { ids: vec![user_id, caller_id] }))
            .await
            .map_err(|s| Error::from_upstream(s, "account"))?
            .into_inner()
            .users;
        // A deleted account cannot be messaged: it looks like nothing is there.
        let own_nickname = users.iter().find(|u| u.id == caller_id).map(|u| u.nickname.clone());
        let user = users.into_iter().find(|u| u.id == user_id).ok_or(Error::NotFound(what))?;
        // The school that counts for a post or comment is the content's own.
        let school_id = content_school.unwrap_or(user.school_id);
        Ok((Recipient { user_id, school_id, nickname: user.nickname, anonymous, post_id }, own_nickname))
    }
}
