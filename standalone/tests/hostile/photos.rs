//! Photos (DESIGN §10): decoded as images, stripped of metadata before they are stored, and
//! served so that no browser takes one for a page.

use campus_testkit::backends;
use campus_testkit::status::json::HttpAnswer;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Client, Hostile};
use crate::images::*;

async fn upload(client: &Client, post: &str, declared: &str, bytes: Vec<u8>) -> crate::harness::Answer {
    client.send(Method::POST, &format!("/v1/posts/{post}/photos"), declared, bytes).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_lose_their_metadata_and_are_served_inert() {
    for backend in backends() {
        let sys = Hostile::start(backend).await;
        sys.sign_up(2, "bora01").await;
        let bora = sys.client(2).signed_in("bora01").await;
        let boards = bora.get("/v1/boards").await.json();
        let board = boards["boards"][0]["id"].as_str().unwrap().to_string();
        let post = bora
            .json(
                Method::POST,
                &format!("/v1/boards/{board}/posts"),
                json!({"title": "익명 사진", "content": "어디서 찍었게", "anonymous": true}),
            )
            .await
            .json()["id"]
            .as_str()
            .unwrap()
            .to_string();

        // A phone photo with its GPS position (and XMP, a comment, HTML after its end).
        let with_gps = upload(&bora, &post, "image/jpeg", jpeg_with_metadata()).await;
        assert_eq!(with_gps.status, StatusCode::OK, "{backend:?}: {with_gps:?}");
        let photo = with_gps.json()["id"].as_str().unwrap().to_string();
        let served = bora.get(&format!("/v1/photos/{photo}")).await;
        assert_eq!(served.status, StatusCode::OK);
        for (header, value) in [
            ("content-type", "image/jpeg"),
            ("x-content-type-options", "nosniff"),
            ("content-security-policy", "sandbox"),
            ("content-disposition", "inline"),
        ] {
            assert_eq!(served.headers.get(header).and_then(|v| v.to_str().ok()), Some(value), "{header}");
        }
        assert!(
            !jpeg_markers(&served.bytes).contains(&0xE1),
            "{backend:?}: an APP1 (Exif) segment was served"
        );
        assert_no_metadata(&served.bytes);

        // An image that carries nothing is stored byte for byte.
        let plain = upload(&bora, &post, "image/png", png()).await.json()["id"].as_str().unwrap().to_string();
        assert!(bora.get(&format!("/v1/photos/{plain}")).await.bytes == png(), "{backend:?}");

        // A GIF89a/HTML polyglot, and a PNG that promises 10^10 pixels, are refused.
        upload(&bora, &post, "image/gif", gif_html_polyglot()).await.refused(400, "UNSUPPORTED_IMAGE");
        upload(&bora, &post, "image/png", png_bomb()).await.refused(400, "PHOTO_TOO_LARGE");
        sys.stop().await;
    }
}
