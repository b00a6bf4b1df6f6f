use campus_proto::board::v1 as pb;
use campus_proto::google::api::HttpBody;
use tonic::Code;

use crate::helpers::*;
use crate::images::*;
use campus_testkit::status::*;

fn upload(post_id: i64, declared: &str, data: Vec<u8>) -> pb::UploadPhotoRequest {
    pb::UploadPhotoRequest {
        post_id,
        photo: Some(HttpBody { content_type: declared.into(), data, extensions: Vec::new() }),
    }
}

#[tokio::test]
async fn photos_are_stored_checked_by_content_and_served_back() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "사진", false).await;
        // The declared type is ignored; the bytes say PNG.
        let photo = app
            .client()
            .upload_photo(app.req(upload(post.id, "image/jpeg", png()), 1))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(photo.content_type, "image/png");
        assert_eq!(photo.url, format!("/v1/photos/{}", photo.id));
        let second = app
            .client()
            .upload_photo(app.req(upload(post.id, "", jpeg_with_metadata()), 1))
            .await
            .unwrap()
            .into_inner();

        let served = app.client().get_photo(app.req(pb::GetPhotoRequest { id: photo.id }, 2)).await.unwrap();
        for (header, value) in [
            ("x-content-type-options", "nosniff"),
            ("content-security-policy", "sandbox"),
            ("content-disposition", "inline"),
        ] {
            assert_eq!(served.metadata().get(header).and_then(|v| v.to_str().ok()), Some(value), "{header}");
        }
        let body = served.into_inner();
        assert_eq!(body.content_type, "image/png");
        assert!(body.data == png(), "a photo without metadata is served byte for byte");
        // The JPEG came with Exif (GPS), XMP, a comment and HTML after its end: none is kept.
        let body = app.client().get_photo(app.req(pb::GetPhotoRequest { id: second.id }, 2)).await.unwrap();
        let jpeg_served = body.into_inner().data;
        assert_no_metadata(&jpeg_served);
        assert!(!jpeg_markers(&jpeg_served).contains(&0xE1), "no APP1 segment");
        assert!(jpeg_served == jpeg());
        let seen = app.get_post(2, post.id).await.unwrap();
        let listed: Vec<(i64, String)> = seen.photos.iter().map(|p| (p.id, p.content_type.clone())).collect();
        assert_eq!(listed, [(photo.id, "image/png".into()), (second.id, "image/jpeg".into())]);
        assert_eq!((seen.photo_count, seen.first_photo_id), (2, photo.id));
        // A list names the first photo and counts them all, without listing them.
        let in_list = app.board_posts(2, board.id, "").await;
        assert_eq!((in_list[0].photo_count, in_list[0].first_photo_id), (2, photo.id));
        assert!(in_list[0].photos.is_empty());

        let outsider =
            app.client().get_photo(app.req_in(pb::GetPhotoRequest { id: photo.id }, 9, OTHER_SCHOOL)).await;
        assert_error(outsider, Code::NotFound, "NOT_FOUND");
        app.client().delete_post(app.req(pb::DeletePostRequest { id: post.id }, 1)).await.unwrap();
        let gone = app.client().get_photo(app.req(pb::GetPhotoRequest { id: photo.id }, 2)).await;
        assert_error(gone, Code::NotFound, "NOT_FOUND");
    })
    .await;
}

#[tokio::test]
async fn non_images_strangers_oversized_and_extra_photos_are_refused() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "사진", false).await;
        for not_an_image in [HTML.to_vec(), gif_html_polyglot(), png()[..40].to_vec()] {
            assert_error(
                app.client().upload_photo(app.req(upload(post.id, "image/gif", not_an_image), 1)).await,
                Code::InvalidArgument,
                "UNSUPPORTED_IMAGE",
            );
        }
        assert_error(
            app.client().upload_photo(app.req(upload(post.id, "image/png", png_bomb()), 1)).await,
            Code::InvalidArgument,
            "PHOTO_TOO_LARGE",
        );
        let empty = upload(post.id, "image/png", Vec::new());
        assert_error(
            app.client().upload_photo(app.req(empty, 1)).await,
            Code::InvalidArgument,
            "UNSUPPORTED_IMAGE",
        );
        let stranger = upload(post.id, "image/png", png());
        assert_error(
            app.client().upload_photo(app.req(stranger, 2)).await,
            Code::PermissionDenied,
            "NOT_OWNER",
        );

        // Exactly 10 MiB passes the server's message limit and the photo limit (what follows
        // the image's end is dropped); one byte more is refused.
        let mut big = png();
        big.resize(10 * 1024 * 1024, 0);
        app.client()
            .upload_photo(app.req(upload(post.id, "image/png", big.clone()), 1))
            .await
            .expect("10 MiB is allowed");
        big.push(0);
        assert_error(
            app.client().upload_photo(app.req(upload(post.id, "image/png", big), 1)).await,
            Code::InvalidArgument,
            "PHOTO_TOO_LARGE",
        );

        for _ in 1..20 {
            app.client().upload_photo(app.req(upload(post.id, "image/png", png()), 1)).await.unwrap();
        }
        let extra = upload(post.id, "image/png", png());
        assert_error(
            app.client().upload_photo(app.req(extra, 1)).await,
            Code::FailedPrecondition,
            "TOO_MANY_PHOTOS",
        );
        assert_eq!(app.get_post(1, post.id).await.unwrap().photos.len(), 20);
    })
    .await;
}
