//! A benchmark's own PostgreSQL database ([`server::db::scratch`]) is made and dropped by an
//! ordinary role — one that may create databases but not end other roles' sessions — and its
//! drop waits for a session still open instead of failing.

use std::time::Duration;

use server::db::Db;
use server::db::scratch::Scratch;
use sqlx::{Connection, Executor, PgConnection};

#[tokio::test]
async fn an_ordinary_role_makes_and_drops_a_database_of_its_own() {
    let admin_url = std::env::var("DIALER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = PgConnection::connect(&admin_url).await.expect("PostgreSQL (scripts/test.sh)");
    let role = format!("dialer_bench_role_{:08x}", rand::random::<u32>());
    let create = format!("CREATE ROLE {role} LOGIN CREATEDB PASSWORD 'bench-pass'");
    admin.execute(sqlx::AssertSqlSafe(create)).await.unwrap();
    let mut as_role = url::Url::parse(&admin_url).unwrap();
    as_role.set_username(&role).unwrap();
    as_role.set_password(Some("bench-pass")).unwrap();

    let scratch = Scratch::create(as_role.as_str(), "dialer_scratch").await.unwrap();
    let name = scratch.name.clone();
    assert!(name.starts_with("dialer_scratch_"), "{name}");
    let db = Db::connect(&scratch.url).await.unwrap();
    db.migrate().await.unwrap();
    db.close().await;
    // A session still open (a server the run started, on its way out): the drop waits.
    let held = PgConnection::connect(&scratch.url).await.unwrap();
    let dropping = tokio::spawn(scratch.drop());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!dropping.is_finished(), "the drop waits for the open session");
    held.close().await.unwrap();
    dropping.await.unwrap().expect("dropped without the right to end other sessions");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(left, 0, "{name} is gone");

    // A URL that is not PostgreSQL's is refused with the reason, creating nothing.
    let err = Scratch::create("not a url", "dialer_scratch").await.unwrap_err();
    assert!(err.to_string().contains("unsupported database URL"), "{err}");
    admin.execute(sqlx::AssertSqlSafe(format!("DROP ROLE {role}"))).await.unwrap();
}
