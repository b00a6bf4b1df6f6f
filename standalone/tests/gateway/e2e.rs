//! End to end through the gateway in front of the real account service (on each database
//! backend): an admin creates a school, a user signs up, logs in and reads their account
//! over HTTP/JSON, gRPC and gRPC-web.

use campus_gateway::Upstreams;
use campus_proto::account::v1::account_service_client::AccountServiceClient;
use campus_proto::account::v1::{GetMeRequest, User};
use campus_testkit::{Outbox, TestDatabase, TestIdentity, backends};
use prost::Message;
use serde_json::{Value, json};

use crate::helpers::{closed_port, grpc_web_frame, parse_grpc_web, spawn_gateway_with_identity};
use crate::support::{admin_bearer, spawn_account};

#[tokio::test]
async fn sign_up_log_in_and_read_the_account_every_way() {
    for backend in backends() {
        let identity = TestIdentity::new();
        let db = TestDatabase::new(backend).await;
        let outbox = Outbox::new();
        let account = spawn_account(&identity, &db, std::future::pending(), |c| {
            c.mail = campus_account::MailConfig::outbox(outbox.path());
        })
        .await;
        let account = format!("http://{account}");
        let down = format!("http://{}", closed_port().await);
        let app = spawn_gateway_with_identity(
            identity.clone(),
            Upstreams { account, board: down.clone(), messaging: down.clone(), timetable: down },
            |c| c.auth_rate_per_minute = 1000,
        )
        .await;
        let admin = admin_bearer(&identity);

        let response = app
            .http
            .post(format!("{}/v1/schools", app.url))
            .header("authorization", &admin)
            .json(&json!({"name": "연세대학교", "emailDomain": "yonsei.ac.kr"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{backend:?}");
        let school: Value = response.json().await.unwrap();
        let school_id = school["id"].as_str().unwrap().to_string();

        let schools: Value =
            app.http.get(format!("{}/v1/schools", app.url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(schools["schools"][0]["name"], "연세대학교");

        let verification = json!({"email": "alice@yonsei.ac.kr", "schoolId": school_id});
        let response = app
            .http
            .post(format!("{}/v1/auth/email-verifications", app.url))
            .json(&verification)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        let code = outbox.code_for("alice@yonsei.ac.kr").await;
        let signup = json!({"loginId": "alice01", "password": "correct horse battery 9", "nickname": "앨리스",
                            "email": "alice@yonsei.ac.kr", "schoolId": school_id, "emailCode": code});
        let response =
            app.http.post(format!("{}/v1/auth/signup", app.url)).json(&signup).send().await.unwrap();
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let again = app.http.post(format!("{}/v1/auth/signup", app.url)).json(&signup).send().await.unwrap();
        assert_eq!(again.status(), 409);
        let body: Value = again.json().await.unwrap();
        assert_eq!(body["details"][0]["@type"], "type.googleapis.com/google.rpc.ErrorInfo");

        let mut foreign = signup.clone();
        foreign["loginId"] = json!("bob01");
        foreign["email"] = json!("bob@gmail.com");
        let response =
            app.http.post(format!("{}/v1/auth/signup", app.url)).json(&foreign).send().await.unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["details"][0]["fieldViolations"][0]["field"], "email", "{body}");

        let response = app
            .http
            .post(format!("{}/v1/auth/login", app.url))
            .json(&json!({"loginId": "alice01", "password": "correct horse battery 9", "refreshTokenInBody": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let session: Value = response.json().await.unwrap();
        let bearer = format!("Bearer {}", session["accessToken"].as_str().unwrap());
        assert!(!session["refreshToken"].as_str().unwrap().is_empty());

        let me: Value = app
            .http
            .get(format!("{}/v1/users/me", app.url))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["loginId"], "alice01");
        assert_eq!(me["schoolId"], school_id.as_str());

        let mut request = tonic::Request::new(GetMeRequest {});
        request.metadata_mut().insert("authorization", bearer.parse().unwrap());
        let user = AccountServiceClient::new(app.channel()).get_me(request).await.unwrap().into_inner();
        assert_eq!(user.nickname, "앨리스");

        let response = app
            .http
            .post(format!("{}/campus.account.v1.AccountService/GetMe", app.url))
            .header("content-type", "application/grpc-web+proto")
            .header("authorization", &bearer)
            .body(grpc_web_frame(&GetMeRequest {}))
            .send()
            .await
            .unwrap();
        let reply = parse_grpc_web(&response.bytes().await.unwrap());
        assert_eq!(reply.trailer("grpc-status"), Some("0"));
        assert_eq!(User::decode(reply.messages[0].as_slice()).unwrap().login_id, "alice01");
    }
}
