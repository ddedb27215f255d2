//! Issue 13's data-store checks against the machine's real servers: PostgreSQL and MariaDB
//! queries with `expect`, replication (a real streaming replica on 5433), TLS (PostgreSQL
//! `sslmode=verify-full`, MariaDB `ssl-mode`, `rediss://`) and redis `INFO` fields.
//!
//! The servers beyond the machine's own are made by `scripts/setup-db-services.sh` (run by
//! `scripts/test-env.sh`): a missing one fails these tests, never skips them.

use std::time::{Duration, Instant};

use crate::checks::{once, probe, reason, silent};
use linkpatrol::probe::client::Clients;
use linkpatrol::probe::probe_instance;
use linkpatrol::state::State;
use linkpatrol::topology::model::*;

/// The test CA of `scripts/setup-db-services.sh`; its server certificate names `localhost` only.
const CA: &str = "/var/lib/linkpatrol-test/tls/ca.pem";

fn cmp(s: &str) -> Comparison {
    let (op, threshold) =
        linkpatrol::topology::validate::parse_comparison(s).expect("a comparison");
    Comparison { op, threshold }
}

fn query(sql: &str, expect: &str, label: Option<&str>) -> DbQuery {
    DbQuery {
        sql: Text::plain(sql),
        expect: cmp(expect),
        label: label.map(str::to_owned),
    }
}

fn db(url: &str, query: impl Into<Option<DbQuery>>, max_lag: Option<u64>) -> DbCheck {
    DbCheck {
        url: Text::plain(url),
        query: query.into(),
        replication: max_lag.map(|s| Replication {
            max_lag: Duration::from_secs(s),
        }),
    }
}

fn pg(url: &str, query: impl Into<Option<DbQuery>>, max_lag: Option<u64>) -> Check {
    Check::Postgres(db(url, query, max_lag))
}

fn my(url: &str, query: impl Into<Option<DbQuery>>, max_lag: Option<u64>) -> Check {
    Check::Mysql(db(url, query, max_lag))
}

fn redis(url: &str, ca: bool, info: &[(&str, InfoExpect)]) -> Check {
    Check::Redis(RedisCheck {
        url: Text::plain(url),
        ca_file: ca.then(|| Text::plain(CA)),
        info: info
            .iter()
            .map(|(f, e)| InfoCheck {
                field: (*f).to_owned(),
                expect: e.clone(),
            })
            .collect(),
    })
}

/// Asserts the state and that the reason contains `needle`.
async fn expect(check: Check, state: State, needle: &str) {
    let what = format!("{check:?}");
    let o = once(check).await;
    assert_eq!(o.state, state, "{what}: {o:?}");
    assert!(
        reason(&o).contains(needle),
        "{what}: {o:?} lacks {needle:?}"
    );
}

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const PG_PW: &str = "postgres://linkpatrol_pw:right@127.0.0.1:5432/test";
const PG_WRONG: &str = "postgres://linkpatrol_pw:wrong@127.0.0.1:5432/test";
const REPLICA: &str = "postgres://postgres@127.0.0.1:5433/test";
const MY: &str = "mysql://root@127.0.0.1:3306/test";
const MY_WRONG: &str = "mysql://linkpatrol_pw:wrong@127.0.0.1:3306/test";

// ------------------------------------------------------------------------------------------------
// PostgreSQL

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_query_compares_the_first_value() {
    let ok = once(pg(PG_PW, query("SELECT 3", "< 5", None), None)).await;
    assert_eq!(ok.state, State::Up, "{ok:?}");
    expect(
        pg(
            PG,
            query(
                "SELECT 14 AS slow",
                "< 5",
                Some("slow queries in the last minute"),
            ),
            None,
        ),
        State::Down,
        "slow queries in the last minute: 14, expected < 5",
    )
    .await;
    // Without a label, the column's name says what the value is; `?column?` says nothing.
    expect(
        pg(PG, query("SELECT 0.25 AS error_ratio", "< 0.1", None), None),
        State::Down,
        "error_ratio: 0.25, expected < 0.1",
    )
    .await;
    expect(
        pg(PG, query("SELECT 7", "== 1", None), None),
        State::Down,
        "query `SELECT 7`: 7, expected == 1",
    )
    .await;
    expect(
        pg(PG, query("SELECT * FROM no_such_table", "< 5", None), None),
        State::Down,
        "query failed: relation \"no_such_table\" does not exist",
    )
    .await;
    expect(
        pg(PG, query("SELECT 1 WHERE false", "< 5", None), None),
        State::Down,
        "the query returned no rows, expected < 5",
    )
    .await;
    expect(
        pg(PG, query("SELECT 'many' AS n", "< 5", None), None),
        State::Down,
        "n: `many` is not a number, expected < 5",
    )
    .await;
    expect(
        pg(PG, query("SELECT NULL AS n", "< 5", None), None),
        State::Down,
        "n: NULL, not a number",
    )
    .await;
    expect(
        pg(PG_WRONG, query("SELECT 1", "< 5", None), Some(10)),
        State::Down,
        "password authentication failed for user \"linkpatrol_pw\"",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replication_on_the_replica_and_the_primary() {
    let o = once(pg(REPLICA, None, Some(10))).await;
    assert_eq!(
        o.state,
        State::Up,
        "the replica on 5433 must stream from 5432: {o:?} (did scripts/setup-db-services.sh run?)"
    );
    // A write on the primary reaches the replica, and the lag check still passes.
    let write = once(pg(
        PG,
        query(
            "CREATE TABLE IF NOT EXISTS lp_repl_tick(n int); INSERT INTO lp_repl_tick VALUES (1); SELECT 1",
            "== 1",
            None,
        ),
        None,
    ))
    .await;
    assert_eq!(write.state, State::Up, "{write:?}");
    let o = once(pg(
        REPLICA,
        query("SELECT count(*) AS ticks FROM lp_repl_tick", ">= 0", None),
        Some(10),
    ))
    .await;
    assert_eq!(o.state, State::Up, "{o:?}");
    expect(
        pg(PG, None, Some(10)),
        State::Down,
        "not a replica: the server is a primary",
    )
    .await;
    expect(
        pg(
            "postgres://linkpatrol_pw:wrong@127.0.0.1:5433/test",
            None,
            Some(10),
        ),
        State::Down,
        "password authentication failed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_verify_full_checks_chain_and_host_name() {
    let ok = format!(
        "postgres://linkpatrol_pw:right@localhost:5433/test?sslmode=verify-full&sslrootcert={CA}"
    );
    let o = once(pg(&ok, None, None)).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let kv = format!(
        "host=localhost port=5433 user=postgres dbname=test sslmode=verify-full sslrootcert={CA}"
    );
    let o = once(pg(&kv, query("SELECT 1", "== 1", None), Some(10))).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    // The certificate names `localhost`, not `127.0.0.1`.
    expect(
        pg(
            &format!(
                "postgres://postgres@127.0.0.1:5433/test?sslmode=verify-full&sslrootcert={CA}"
            ),
            None,
            None,
        ),
        State::Down,
        "certificate does not match the host name",
    )
    .await;
    // Without the test CA, the chain is not trusted.
    expect(
        pg(
            "postgres://postgres@localhost:5433/test?sslmode=verify-full",
            None,
            None,
        ),
        State::Down,
        "certificate not trusted: unknown issuer",
    )
    .await;
    expect(
        pg(
            &format!("postgres://linkpatrol_pw:wrong@localhost:5433/test?sslmode=verify-full&sslrootcert={CA}"),
            None,
            None,
        ),
        State::Down,
        "password authentication failed",
    )
    .await;
    expect(
        pg(
            "postgres://postgres@localhost:5433/test?sslmode=verify-ca",
            None,
            None,
        ),
        State::Unknown,
        "`sslmode=verify-ca` is not supported",
    )
    .await;
}

// ------------------------------------------------------------------------------------------------
// MariaDB

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_query_compares_the_first_value() {
    let o = once(my(
        "mariadb://linkpatrol_pw:right@127.0.0.1:3306",
        query("SELECT 3", "< 5", None),
        None,
    ))
    .await;
    assert_eq!(o.state, State::Up, "{o:?}");
    expect(
        my(
            MY,
            query(
                "SELECT 14 AS slow",
                "< 5",
                Some("slow queries in the last minute"),
            ),
            None,
        ),
        State::Down,
        "slow queries in the last minute: 14, expected < 5",
    )
    .await;
    expect(
        my(
            MY,
            query("SELECT VARIABLE_VALUE AS threads FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_CONNECTED'", "> 1000000", None),
            None,
        ),
        State::Down,
        "threads: ",
    )
    .await;
    expect(
        my(MY, query("SELECT * FROM no_such_table", "< 5", None), None),
        State::Down,
        "query failed: Table 'test.no_such_table' doesn't exist",
    )
    .await;
    expect(
        my(
            MY,
            query("SELECT 1 FROM DUAL WHERE 1 = 0", "< 5", None),
            None,
        ),
        State::Down,
        "the query returned no rows, expected < 5",
    )
    .await;
    expect(
        my(MY, query("SELECT 'many' AS n", "< 5", None), None),
        State::Down,
        "n: `many` is not a number, expected < 5",
    )
    .await;
    expect(
        my(MY_WRONG, query("SELECT 1", "< 5", None), None),
        State::Down,
        "Access denied for user 'linkpatrol_pw'@",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_replication_on_a_server_that_is_not_a_replica() {
    expect(
        my(MY, None, Some(10)),
        State::Down,
        "not a replica: SHOW REPLICA STATUS is empty",
    )
    .await;
    // Without the privilege, the server's refusal is the reason.
    expect(
        my("mysql://linkpatrol_pw:right@127.0.0.1:3306", None, Some(10)),
        State::Down,
        "SHOW REPLICA STATUS failed: Access denied",
    )
    .await;
    expect(
        my(MY_WRONG, None, Some(10)),
        State::Down,
        "Access denied for user 'linkpatrol_pw'@",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_ssl_mode() {
    let user = "mysql://linkpatrol_tls:right@localhost:3307/test";
    for mode in [
        format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={CA}"),
        format!("ssl-mode=verify_ca&ssl-ca={CA}"),
        "ssl-mode=REQUIRED".to_owned(),
    ] {
        let o = once(my(
            &format!("{user}?{mode}"),
            query("SELECT 2", "== 2", None),
            None,
        ))
        .await;
        assert_eq!(o.state, State::Up, "{mode}: {o:?}");
    }
    // The user is REQUIRE SSL: in plain text the server refuses it, which proves TLS was used.
    expect(my(user, None, None), State::Down, "Access denied").await;
    expect(
        my(
            &format!("mysql://linkpatrol_tls:right@127.0.0.1:3307/test?ssl-mode=VERIFY_IDENTITY&ssl-ca={CA}"),
            None,
            None,
        ),
        State::Down,
        "certificate does not match the host name",
    )
    .await;
    expect(
        my(&format!("{user}?ssl-mode=VERIFY_IDENTITY"), None, None),
        State::Down,
        "certificate not trusted: unknown issuer (self-signed or private CA? add `ssl-ca=` to the dsn)",
    )
    .await;
    expect(
        my(
            &format!("mysql://linkpatrol_tls:wrong@localhost:3307/test?ssl-mode=VERIFY_IDENTITY&ssl-ca={CA}"),
            None,
            None,
        ),
        State::Down,
        "Access denied for user 'linkpatrol_tls'@",
    )
    .await;
    expect(
        my(&format!("{user}?ssl-mode=SOMETIMES"), None, None),
        State::Unknown,
        "unknown `ssl-mode=SOMETIMES`",
    )
    .await;
}

// ------------------------------------------------------------------------------------------------
// Redis

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_info_fields() {
    let plain = "redis://127.0.0.1:6379";
    let o = once(redis(
        plain,
        false,
        &[
            ("role", InfoExpect::Equals("master".into())),
            ("connected_slaves", InfoExpect::Compare(cmp(">= 0"))),
        ],
    ))
    .await;
    assert_eq!(o.state, State::Up, "{o:?}");
    expect(
        redis(
            plain,
            false,
            &[
                ("role", InfoExpect::Equals("slave".into())),
                ("connected_slaves", InfoExpect::Compare(cmp(">= 1"))),
                ("no_such_field", InfoExpect::Compare(cmp(">= 1"))),
            ],
        ),
        State::Down,
        "role: master, expected slave; connected_slaves: 0, expected >= 1; INFO has no field `no_such_field`",
    )
    .await;
    // The machine's Redis has no maxmemory: the ratio cannot be computed, and the reason says so.
    expect(
        redis(
            plain,
            false,
            &[("memory_ratio", InfoExpect::Compare(cmp("< 0.9")))],
        ),
        State::Degraded,
        "maxmemory is 0 (unlimited), so memory_ratio cannot be checked; used_memory ",
    )
    .await;
    expect(
        redis(
            "redis://:wrong@127.0.0.1:6379",
            false,
            &[("role", InfoExpect::Equals("master".into()))],
        ),
        State::Down,
        "redis AUTH failed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_tls_and_a_password() {
    let url = "rediss://:right@localhost:6380";
    let o = once(redis(
        url,
        true,
        &[
            ("role", InfoExpect::Equals("master".into())),
            ("memory_ratio", InfoExpect::Compare(cmp("< 0.9"))),
        ],
    ))
    .await;
    assert_eq!(
        o.state,
        State::Up,
        "{o:?} (did scripts/setup-db-services.sh run?)"
    );
    expect(
        redis(
            url,
            true,
            &[("memory_ratio", InfoExpect::Compare(cmp("< 0.000001")))],
        ),
        State::Down,
        "of maxmemory 64.0 MiB), expected < 0.000001",
    )
    .await;
    expect(
        redis("rediss://:wrong@localhost:6380", true, &[]),
        State::Down,
        "redis AUTH failed",
    )
    .await;
    expect(
        redis("rediss://localhost:6380", true, &[]),
        State::Down,
        "NOAUTH",
    )
    .await;
    // Without the test CA the chain is not trusted; `127.0.0.1` is not the certificate's name.
    expect(redis(url, false, &[]), State::Down, "TLS handshake failed").await;
    expect(
        redis("rediss://:right@127.0.0.1:6380", true, &[]),
        State::Down,
        "TLS handshake failed",
    )
    .await;
}

// ------------------------------------------------------------------------------------------------
// Timeouts against servers that accept and never answer

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_new_check_times_out_against_a_silent_server() {
    let a = silent().await;
    let checks = [
        pg(
            &format!("postgres://postgres@{a}/test"),
            query("SELECT 1", "== 1", None),
            None,
        ),
        pg(&format!("postgres://postgres@{a}/test"), None, Some(10)),
        pg(
            &format!("postgres://postgres@{a}/test?sslmode=verify-full&sslrootcert={CA}"),
            None,
            None,
        ),
        my(
            &format!("mysql://root@{a}/test"),
            query("SELECT 1", "== 1", None),
            None,
        ),
        my(&format!("mysql://root@{a}/test"), None, Some(10)),
        my(
            &format!("mysql://root@{a}/test?ssl-mode=VERIFY_IDENTITY&ssl-ca={CA}"),
            None,
            None,
        ),
        redis(
            &format!("redis://{a}"),
            false,
            &[("role", InfoExpect::Equals("master".into()))],
        ),
        redis(&format!("rediss://{a}"), true, &[]),
    ];
    for check in checks {
        let what = format!("{check:?}");
        let mut p = probe(check);
        p.timeout = Duration::from_millis(400);
        let clients = Clients::for_checks([&p.check]);
        let start = Instant::now();
        let o = probe_instance(&clients, &p).await;
        let took = start.elapsed();
        assert_eq!(o.state, State::Down, "{what}: {o:?}");
        assert_eq!(reason(&o), "timed out after 400ms", "{what}");
        assert!(took < Duration::from_millis(900), "{what} took {took:?}");
    }
}
