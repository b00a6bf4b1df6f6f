use campus_proto::account::v1::*;
use campus_testkit::backends;
use tonic::{Code, Request};

use crate::helpers::*;
use campus_testkit::status::*;

#[tokio::test]
async fn schools_are_listed_without_a_token_page_by_page() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        for (name, domain) in [("Yonsei", "yonsei.ac.kr"), ("Korea", "korea.ac.kr"), ("SNU", "snu.ac.kr")] {
            app.create_school(name, domain).await;
        }
        let mut client = app.public.clone();
        let first = client
            .list_schools(Request::new(ListSchoolsRequest { page_size: 2, page_token: String::new() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(first.schools.len(), 2, "{backend:?}");
        assert!(!first.next_page_token.is_empty());
        let second = client
            .list_schools(Request::new(ListSchoolsRequest {
                page_size: 2,
                page_token: first.next_page_token,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(second.schools.len(), 1);
        assert!(second.next_page_token.is_empty());
        let names: Vec<_> = first.schools.iter().chain(&second.schools).map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Yonsei", "Korea", "SNU"]);

        let bad = client
            .list_schools(Request::new(ListSchoolsRequest { page_size: 2, page_token: "forged".into() }))
            .await;
        assert_eq!(bad.unwrap_err().code(), Code::InvalidArgument);
    }
}

#[tokio::test]
async fn only_admins_create_schools_and_domains_are_unique() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (school, alice, _) = app.school_with_two().await;
        let request = || CreateSchoolRequest { name: "Korea".into(), email_domain: "korea.ac.kr".into() };
        let mut client = app.public.clone();
        assert_error(
            client.create_school(app.as_user(request(), &alice)).await,
            Code::PermissionDenied,
            "ADMIN_ONLY",
        );
        assert_eq!(
            client.create_school(Request::new(request())).await.unwrap_err().code(),
            Code::Unauthenticated
        );

        let dup = CreateSchoolRequest { name: "Other".into(), email_domain: "Yonsei.AC.kr".into() };
        assert_error(
            client.create_school(app.as_admin(dup)).await,
            Code::AlreadyExists,
            "SCHOOL_DOMAIN_TAKEN",
        );

        let bad = CreateSchoolRequest { name: "x".repeat(51), email_domain: "not a domain".into() };
        let status = assert_error(
            client.create_school(app.as_admin(bad)).await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        assert_eq!(bad_fields(&status), ["name", "emailDomain"]);

        let got = client
            .get_school(app.as_user(GetSchoolRequest { id: school.id }, &alice))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got, school);
        let missing = client.get_school(app.as_user(GetSchoolRequest { id: school.id + 1 }, &alice)).await;
        assert_error(missing, Code::NotFound, "NOT_FOUND");
    }
}
