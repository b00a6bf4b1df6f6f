//! What the gateway forwards over gRPC (DESIGN §10): only the methods of the public services,
//! by their exact names. Internal services, unknown names and odd spellings of real ones
//! (percent-encoded, other case, extra slashes) are refused by the gateway itself.

use campus_proto::account::v1::account_internal_service_client::AccountInternalServiceClient;
use campus_proto::account::v1::{GetUsersRequest, ListSchoolsRequest, ListSchoolsResponse};
use campus_testkit::backends;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic_prost::ProstCodec;

use crate::harness::Hostile;

/// The gateway's answer to a path it does not route; an upstream would word it differently,
/// so this message shows the call stopped at the gateway.
const NOT_ROUTED: &str = "no such method on the gateway";

/// Calls `path` on the gateway with a ListSchools request (a public method, no token needed).
async fn call(
    channel: tonic::transport::Channel,
    path: &'static str,
) -> Result<ListSchoolsResponse, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("the channel is ready");
    let codec = ProstCodec::<ListSchoolsRequest, ListSchoolsResponse>::default();
    let request = tonic::Request::new(ListSchoolsRequest::default());
    grpc.unary(request, PathAndQuery::from_static(path), codec).await.map(tonic::Response::into_inner)
}

#[tokio::test]
async fn only_public_methods_by_their_exact_names_reach_an_upstream() {
    for backend in backends() {
        let sys = Hostile::start(backend).await;
        let channel = campus_testkit::channel(sys.system.gateway_addr);

        let schools = call(channel.clone(), "/campus.account.v1.AccountService/ListSchools").await;
        assert!(schools.is_ok_and(|s| !s.schools.is_empty()), "{backend:?}: the real name is routed");

        for path in [
            "/campus.account.v1.Account%53ervice/ListSchools",
            "/campus.account.v1.AccountService/List%53chools",
            "/campus.account.v1.AccountService/listschools",
            "/campus.account.v1.AccountService/ListSchools%00",
            "/campus.account.v1.AccountService//ListSchools",
            "/campus.account.v1.AccountInternalService/GetUsers",
            "/campus.account.v1.AccountInternalService/VerifyPassword",
            "/campus.board.v1.BoardInternalService/GetContentAuthor",
            // The event feed of account and of board alike: one name on both ports.
            "/campus.events.v1.EventFeedInternalService/WatchEvents",
            "/campus.account.v1.AccountService/NoSuchMethod",
            "/campus.account.v2.AccountService/ListSchools",
        ] {
            let status = call(channel.clone(), path).await.expect_err(path);
            assert_eq!(
                (status.code(), status.message()),
                (Code::Unimplemented, NOT_ROUTED),
                "{backend:?} {path}"
            );
        }

        // The generated client of an internal service, with a guessed credential, too.
        let mut internal = AccountInternalServiceClient::new(channel);
        let mut request = tonic::Request::new(GetUsersRequest::default());
        request
            .metadata_mut()
            .insert(campus_shared::identity::SERVICE_TOKEN_HEADER, "guess".parse().unwrap());
        let status = internal.get_users(request).await.expect_err("internal RPCs are not served");
        assert_eq!((status.code(), status.message()), (Code::Unimplemented, NOT_ROUTED), "{backend:?}");
        sys.stop().await;
    }
}
