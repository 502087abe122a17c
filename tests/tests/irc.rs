//! The IRC gateway against the real binary, with a raw line client: registration and login
//! (PASS/NICK/USER, SASL PLAIN, refusals, limits), every command and its refusals, replay and
//! acknowledgement across a dropped connection, two devices of one user, rich events, chat
//! history, and the names of another server's channels and users.

use std::time::Duration;

use base64::Engine as _;
use hearth_tests::api::{User, PASSWORD};
use hearth_tests::irc::{IrcClient, IrcLine};
use hearth_tests::network::federated_with;
use hearth_tests::process::Homeserver;
use serde_json::json;

fn start(name: &str) -> Homeserver {
    start_with(name, &[])
}

fn start_with(name: &str, extra: &[(&str, &str)]) -> Homeserver {
    let mut env = vec![("IRC_PORT", "0")];
    env.extend_from_slice(extra);
    Homeserver::start_with(name, &env)
}

fn irc(hs: &Homeserver) -> String {
    hs.irc_addr.clone().expect("the IRC gateway's address")
}

async fn login(hs: &Homeserver, nick: &str, device: &str) -> IrcClient {
    IrcClient::login(&irc(hs), nick, PASSWORD, device).await
}

/// The server's lines for the commands sent before `PING :token`.
async fn answers(c: &mut IrcClient, token: &str) -> Vec<IrcLine> {
    c.sync(token).await
}

fn commands(lines: &[IrcLine]) -> Vec<String> {
    lines.iter().map(|l| l.command.clone()).collect()
}

fn has(lines: &[IrcLine], command: &str) -> bool {
    lines.iter().any(|l| l.command == command)
}

#[actix_web::test]
async fn registration_welcomes_and_refuses() {
    let hs = start_with(
        "hs1.test",
        &[
            ("IRC_REGISTRATION_TIMEOUT", "2"),
            ("IRC_MAX_PER_ADDRESS", "3"),
            ("MOTD", "hello\nsecond line"),
        ],
    );
    User::register(&hs.url, "alice").await;
    let addr = irc(&hs);

    // 001–005 with ISUPPORT, then the MOTD.
    let mut c = IrcClient::connect(&addr).await;
    c.send(&format!("PASS :{PASSWORD}")).await;
    c.send("NICK alice").await;
    c.send("USER laptop 0 * :Alice").await;
    let welcome = c.collect_until("376", |l| l.command == "376").await;
    assert_eq!(
        commands(&welcome),
        ["001", "002", "003", "004", "005", "375", "372", "372", "376"]
    );
    assert_eq!(welcome[0].params[0], "alice");
    let isupport = welcome[4].params.join(" ");
    for token in [
        "PREFIX=(ov)@+",
        "CHANTYPES=#",
        "CHANMODES=b,k,l,imnst",
        "NETWORK=Hearth",
        "CASEMAPPING=ascii",
        "NICKLEN=20",
    ] {
        assert!(isupport.contains(token), "{isupport}");
    }
    c.send("PASS again").await;
    c.expect_command("462").await;
    c.send("FROB").await;
    c.expect_command("421").await;
    c.send("JOIN").await;
    c.expect_command("461").await;

    // A wrong password: 464 and the connection closes.
    let mut bad = IrcClient::connect(&addr).await;
    bad.send("PASS wrong-password").await;
    bad.send("NICK alice").await;
    bad.send("USER laptop 0 * :Alice").await;
    bad.expect_command("464").await;
    assert!(bad.closed_within(Duration::from_secs(10)).await);
    // No password at all.
    let mut none = IrcClient::connect(&addr).await;
    none.send("NICK alice").await;
    none.send("USER laptop 0 * :Alice").await;
    none.expect_command("464").await;
    assert!(none.closed_within(Duration::from_secs(10)).await);

    // Commands before registration; a line over the limits.
    let mut early = IrcClient::connect(&addr).await;
    early.send("JOIN #x").await;
    early.expect_command("451").await;
    early
        .send(&format!("PRIVMSG #x :{}", "a".repeat(600)))
        .await;
    early.expect_command("417").await;
    early
        .send_raw(format!("@t={} PING x\r\n", "v".repeat(9000)).as_bytes())
        .await;
    early.expect_command("417").await;
    // The registration timeout closes a connection that never logs in.
    early
        .expect("ERROR", |l| {
            l.command == "ERROR" && l.text().contains("timed out")
        })
        .await;
    assert!(early.closed_within(Duration::from_secs(10)).await);

    // At most IRC_MAX_PER_ADDRESS connections per address (c is one).
    let _a = IrcClient::connect(&addr).await;
    let _b = IrcClient::connect(&addr).await;
    let mut refused = IrcClient::connect(&addr).await;
    refused
        .expect("ERROR", |l| {
            l.command == "ERROR" && l.text().contains("Too many")
        })
        .await;
    drop(c);
}

#[actix_web::test]
async fn sasl_plain_logs_in_a_named_device() {
    let hs = start("hs1.test");
    User::register(&hs.url, "alice").await;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);

    let mut c = IrcClient::connect(&irc(&hs)).await;
    c.send("CAP LS 302").await;
    let ls = c.expect_command("CAP").await;
    assert!(
        ls.text().contains("sasl=PLAIN") && ls.text().contains("draft/chathistory"),
        "{}",
        ls.raw
    );
    c.send("NICK alice").await;
    c.send("USER ignored 0 * :Alice").await;
    c.send("CAP REQ :sasl server-time").await;
    c.expect("ACK", |l| l.params.get(1).is_some_and(|p| p == "ACK"))
        .await;
    // A wrong password first: 904, and the client may try again.
    c.send("AUTHENTICATE PLAIN").await;
    c.expect("AUTHENTICATE +", |l| l.command == "AUTHENTICATE")
        .await;
    c.send(&format!(
        "AUTHENTICATE {}",
        b64("\0alice@phone\0wrong-password")
    ))
    .await;
    c.expect_command("904").await;
    c.send("AUTHENTICATE PLAIN").await;
    c.expect("AUTHENTICATE +", |l| l.command == "AUTHENTICATE")
        .await;
    c.send(&format!(
        "AUTHENTICATE {}",
        b64(&format!("\0alice@phone\0{PASSWORD}"))
    ))
    .await;
    c.expect_command("900").await;
    c.expect_command("903").await;
    c.send("CAP END").await;
    c.expect_command("001").await;
    c.send("WHOIS alice").await;
    let devices = c.expect_command("320").await;
    assert!(devices.text().contains("phone"), "{}", devices.raw);
    assert!(!devices.text().contains("ignored"), "{}", devices.raw);

    // An unknown CAP is refused as a whole.
    c.send("CAP REQ :server-time frobnicate").await;
    c.expect("NAK", |l| l.params.get(1).is_some_and(|p| p == "NAK"))
        .await;
}

#[actix_web::test]
async fn channel_commands_answer_as_irssi_expects() {
    let hs = start("hs1.test");
    let bob = User::register(&hs.url, "bob").await;
    User::register(&hs.url, "alice").await;
    let mut c = login(&hs, "alice", "laptop").await;

    // JOIN several with keys; each gets JOIN, topic (none yet) and NAMES.
    c.send("JOIN #one,#two").await;
    let joined = answers(&mut c, "j").await;
    let joins: Vec<&IrcLine> = joined.iter().filter(|l| l.command == "JOIN").collect();
    assert_eq!(joins.len(), 2, "{joined:?}");
    assert_eq!(joins[0].params[0], "#one");
    assert!(joined
        .iter()
        .any(|l| l.command == "353" && l.text() == "@alice"));
    assert_eq!(joined.iter().filter(|l| l.command == "366").count(), 2);

    // irssi's channel sync: MODE #c, WHO #c, MODE #c b, each answered.
    c.send("MODE #one").await;
    c.send("WHO #one").await;
    c.send("MODE #one b").await;
    c.send("NAMES #one").await;
    let sync = answers(&mut c, "s").await;
    let got = commands(&sync);
    for numeric in ["324", "329", "352", "315", "368", "353", "366"] {
        assert!(
            got.contains(&numeric.to_string()),
            "{numeric} missing: {got:?}"
        );
    }
    let modes = sync.iter().find(|l| l.command == "324").unwrap();
    assert_eq!(modes.params[2], "+nt");
    let who = sync.iter().find(|l| l.command == "352").unwrap();
    assert_eq!(who.params[5], "alice");
    assert_eq!(who.params[6], "H@");

    // TOPIC set and asked.
    c.send("TOPIC #one :the topic").await;
    c.expect("TOPIC", |l| l.command == "TOPIC" && l.text() == "the topic")
        .await;
    c.send("TOPIC #one").await;
    assert_eq!(c.expect_command("332").await.text(), "the topic");
    c.expect_command("333").await;

    // Modes through the same rules as HTTP: +o for a member, +k, +l, +i, +m, +b.
    bob.join("#one").await;
    c.expect("bob's JOIN", |l| l.command == "JOIN" && l.nick() == "bob")
        .await;
    c.send("MODE #one +o bob").await;
    let mode = c.expect("MODE", |l| l.command == "MODE").await;
    assert_eq!(mode.params[1..], ["+o", "bob"]);
    c.send("MODE #one -o+v bob bob").await;
    c.expect("MODE -o", |l| {
        l.command == "MODE" && l.params[1].contains("-o")
    })
    .await;
    c.send("MODE #two +k sesame").await;
    c.expect("MODE +k", |l| l.command == "MODE" && l.params[1] == "+k")
        .await;
    let wrong_key = bob
        .api
        .post(
            "/api/v1/channels/join",
            json!({"channel": "#two", "key": "nope"}),
        )
        .await;
    wrong_key.expect_error(403, "bad_channel_key");
    c.send("MODE #two -k+l 1").await;
    c.expect("MODE +l", |l| {
        l.command == "MODE" && l.params[1].contains("+l")
    })
    .await;
    bob.api
        .post("/api/v1/channels/join", json!({"channel": "#two"}))
        .await
        .expect_error(403, "channel_full");
    c.send("MODE #two -l+i").await;
    c.expect("MODE +i", |l| {
        l.command == "MODE" && l.params[1].contains("+i")
    })
    .await;
    c.send("INVITE bob #two").await;
    let inviting = c.expect_command("341").await;
    assert_eq!(inviting.params[1..3], ["bob", "#two"]);
    bob.join("#two").await;
    c.send("MODE #two +b carol!*@*").await;
    c.expect("MODE +b", |l| l.command == "MODE" && l.params[1] == "+b")
        .await;
    c.send("MODE #two b").await;
    let ban = c.expect_command("367").await;
    assert_eq!(ban.params[2], "carol@*");
    c.expect_command("368").await;
    c.send("MODE alice").await;
    c.expect_command("221").await;

    // KICK, and the kicked user's next message is refused by the same rule as HTTP.
    c.send("KICK #one bob :out").await;
    let kick = c.expect("KICK", |l| l.command == "KICK").await;
    assert_eq!(kick.params[1], "bob");
    assert_eq!(kick.text(), "out");
    bob.api
        .post("/api/v1/messages", json!({"to": "#one", "body": "x"}))
        .await
        .expect_error(403, "not_member");

    // Refusals as numerics.
    c.send("PRIVMSG #nowhere :hi").await;
    c.send("PRIVMSG nobody :hi").await;
    c.send("PART #nowhere").await;
    c.send("JOIN nohash").await;
    c.send("KICK #one bob").await;
    c.send("NICK bob").await;
    c.send("NICK Bad-Nick!").await;
    let refusals = commands(&answers(&mut c, "r").await);
    for numeric in ["403", "401", "441", "433", "432"] {
        assert!(
            refusals.contains(&numeric.to_string()),
            "{numeric}: {refusals:?}"
        );
    }
    // Not an operator: 482; moderated: 404; not on a channel: 442; banned, invite-only.
    let mut b = login(&hs, "bob", "irc").await;
    b.send("TOPIC #two :mine now").await;
    b.send("MODE #two -i").await;
    let ops_only = answers(&mut b, "o").await;
    assert!(has(&ops_only, "482"), "{ops_only:?}");
    c.send("MODE #two +m").await;
    c.expect("MODE +m", |l| l.command == "MODE" && l.params[1] == "+m")
        .await;
    b.send("PRIVMSG #two :can I?").await;
    b.send("PART #one").await;
    let refused = answers(&mut b, "m").await;
    assert!(has(&refused, "404"), "{refused:?}");
    assert!(has(&refused, "442"), "{refused:?}");
    c.send("MODE #two +b bob@*").await;
    c.expect("MODE +b bob", |l| {
        l.command == "MODE" && l.params.get(2).is_some_and(|p| p == "bob@*")
    })
    .await;
    b.send("JOIN #two").await;
    assert!(has(&answers(&mut b, "b").await, "474"));
    c.send("MODE #two -b bob@*").await;
    c.send("JOIN #three").await;
    c.send("MODE #three +i").await;
    answers(&mut c, "i").await;
    b.send("JOIN #three").await;
    assert!(has(&answers(&mut b, "i").await, "473"));
    c.send("MODE #three -i+k key").await;
    answers(&mut c, "k").await;
    b.send("JOIN #three wrong").await;
    assert!(has(&answers(&mut b, "k").await, "475"));
    b.send("JOIN #three key").await;
    let ok = answers(&mut b, "k2").await;
    assert!(
        ok.iter()
            .any(|l| l.command == "JOIN" && l.params[0] == "#three"),
        "{ok:?}"
    );

    // PART: the PART line comes with the event.
    c.send("PART #one :bye").await;
    let part = c.expect("PART", |l| l.command == "PART").await;
    assert_eq!((part.params[0].as_str(), part.text()), ("#one", "bye"));

    // LIST shows the channels that are not secret.
    c.send("LIST").await;
    let list = c.collect_until("323", |l| l.command == "323").await;
    assert!(
        list.iter()
            .any(|l| l.command == "322" && l.params[1] == "#two"),
        "{list:?}"
    );
}

#[actix_web::test]
async fn messages_flow_between_irc_and_http() {
    let hs = start("hs1.test");
    let bob = User::register(&hs.url, "bob").await;
    User::register(&hs.url, "alice").await;
    let mut c = login(&hs, "alice", "laptop").await;
    c.send("JOIN #room").await;
    answers(&mut c, "j").await;
    bob.join("#room").await;
    let mut bob_cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();

    bob.say("#room", "hello from http").await;
    let got = c.expect("bob's message", |l| l.command == "PRIVMSG").await;
    assert_eq!(got.source, "bob!bob@hs1.test");
    assert_eq!(
        (got.params[0].as_str(), got.text()),
        ("#room", "hello from http")
    );
    bob.say("alice", "a secret").await;
    let dm = c.expect("DM", |l| l.command == "PRIVMSG").await;
    assert_eq!((dm.params[0].as_str(), dm.text()), ("alice", "a secret"));

    c.send("PRIVMSG #room :hello from irc").await;
    c.send("PRIVMSG bob :psst").await;
    c.send("NOTICE #room :a notice").await;
    c.send("PRIVMSG #room :\u{1}ACTION waves\u{1}").await;
    c.send("PRIVMSG bob :\u{1}VERSION\u{1}").await;
    let seen = answers(&mut c, "sent").await;
    // Without echo-message, one's own messages do not come back.
    assert!(!seen.iter().any(|l| l.command == "PRIVMSG"), "{seen:?}");
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while got.len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "alice's messages: {got:?}"
        );
        let answer = bob.sync(Some(bob_cursor), 3).await;
        bob_cursor = answer["next"].as_i64().unwrap();
        for event in answer["events"].as_array().unwrap() {
            let kind = event["type"].as_str().unwrap_or_default();
            if event["from"] == "alice@hs1.test" && ["message", "notice", "action"].contains(&kind)
            {
                got.push((
                    event["type"].as_str().unwrap().to_string(),
                    event["to"].as_str().unwrap().to_string(),
                    event["body"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    assert_eq!(
        got,
        [
            (
                "message".into(),
                "#room@hs1.test".into(),
                "hello from irc".into()
            ),
            ("message".into(), "bob@hs1.test".into(), "psst".into()),
            ("notice".into(), "#room@hs1.test".into(), "a notice".into()),
            ("action".into(), "#room@hs1.test".into(), "waves".into()),
        ] as [(String, String, String); 4]
    );

    // A multi-line body is several lines; WHO and WHOIS of an HTTP user.
    bob.say("#room", "line one\nline two").await;
    c.expect("line one", |l| {
        l.command == "PRIVMSG" && l.text() == "line one"
    })
    .await;
    c.expect("line two", |l| {
        l.command == "PRIVMSG" && l.text() == "line two"
    })
    .await;
    c.send("WHOIS bob").await;
    let whois = c.collect_until("318", |l| l.command == "318").await;
    for numeric in ["311", "312", "330", "320", "317"] {
        assert!(has(&whois, numeric), "{numeric}: {whois:?}");
    }
    c.send("WHO bob").await;
    let who = c.collect_until("315", |l| l.command == "315").await;
    assert!(who
        .iter()
        .any(|l| l.command == "352" && l.params[5] == "bob"));

    // AWAY sets the status others see.
    c.send("AWAY :lunch").await;
    c.expect_command("306").await;
    let profile = bob.api.get("/api/v1/users/alice").await.expect(200);
    assert_eq!(profile["status"], "away");
    c.send("AWAY").await;
    c.expect_command("305").await;
    c.send("MOTD").await;
    c.expect_command("422").await;

    // Flood control: RATE_LIMIT_SEND applies to IRC as to HTTP.
    drop(c);
}

#[actix_web::test]
async fn sends_are_rate_limited_like_http() {
    let hs = start_with("hs1.test", &[("RATE_LIMIT_SEND", "3/60s")]);
    User::register(&hs.url, "alice").await;
    let mut c = login(&hs, "alice", "laptop").await;
    c.send("JOIN #room").await;
    for i in 0..5 {
        c.send(&format!("PRIVMSG #room :{i}")).await;
    }
    let lines = answers(&mut c, "flood").await;
    assert!(has(&lines, "263"), "{lines:?}");
}

#[actix_web::test]
async fn a_dropped_connection_gets_everything_it_did_not_acknowledge() {
    let hs = start("hs1.test");
    let bob = User::register(&hs.url, "bob").await;
    User::register(&hs.url, "alice").await;
    let mut c = login(&hs, "alice", "laptop").await;
    c.send("JOIN #room").await;
    answers(&mut c, "j").await;
    bob.join("#room").await;
    c.expect("bob's JOIN", |l| l.command == "JOIN" && l.nick() == "bob")
        .await;
    c.answer_pings = false;

    bob.say("#room", "one").await;
    c.expect("one", |l| l.command == "PRIVMSG" && l.text() == "one")
        .await;
    let ping = c.expect_command("PING").await;
    assert!(ping.text().starts_with("hearth-"), "{}", ping.raw);
    // Dropped before the PONG: "one" comes again.
    drop(c);
    let mut c = IrcClient::connect(&irc(&hs)).await;
    c.answer_pings = false;
    c.send(&format!("PASS :{PASSWORD}")).await;
    c.send("CAP LS").await;
    c.send("CAP REQ :batch server-time message-tags").await;
    c.send("CAP END").await;
    c.send("NICK alice").await;
    c.send("USER laptop 0 * :Alice").await;
    let replay = c.collect_until("PING", |l| l.command == "PING").await;
    let start = replay
        .iter()
        .position(|l| {
            l.command == "BATCH"
                && l.params.get(1).is_some_and(|t| t == "chathistory")
                && l.params[2] == "#room"
        })
        .expect("a chathistory batch");
    let one = replay[start..]
        .iter()
        .find(|l| l.command == "PRIVMSG" && l.text() == "one")
        .expect("one again");
    assert!(one.tag("time").is_some() && one.tag("msgid").is_some() && one.tag("batch").is_some());
    assert!(replay
        .iter()
        .any(|l| l.command == "JOIN" && l.params[0] == "#room" && l.nick() == "alice"));
    let token = replay.last().unwrap().text().to_string();
    // Acknowledged now.
    c.send(&format!("PONG :{token}")).await;
    answers(&mut c, "acked").await;
    drop(c);

    bob.say("#room", "two").await;
    let mut c = IrcClient::connect(&irc(&hs)).await;
    c.answer_pings = false;
    c.send(&format!("PASS :{PASSWORD}")).await;
    c.send("NICK alice").await;
    c.send("USER laptop 0 * :Alice").await;
    let replay = c.collect_until("PING", |l| l.command == "PING").await;
    let bodies: Vec<&str> = replay
        .iter()
        .filter(|l| l.command == "PRIVMSG")
        .map(|l| l.text())
        .collect();
    assert_eq!(bodies, ["two"], "{replay:?}");

    // Another device name is another cursor: it starts at the present.
    let mut phone = login(&hs, "alice", "phone").await;
    let lines = answers(&mut phone, "p").await;
    assert!(!lines.iter().any(|l| l.command == "PRIVMSG"), "{lines:?}");
}

#[actix_web::test]
async fn every_device_of_a_user_gets_everything() {
    let hs = start("hs1.test");
    let bob = User::register(&hs.url, "bob").await;
    User::register(&hs.url, "alice").await;
    let mut laptop = login(&hs, "alice", "laptop").await;
    laptop.send("JOIN #room").await;
    answers(&mut laptop, "j").await;
    let mut phone = IrcClient::connect(&irc(&hs)).await;
    phone.send(&format!("PASS :{PASSWORD}")).await;
    phone.send("CAP REQ :echo-message message-tags").await;
    phone.send("CAP END").await;
    phone.send("NICK alice").await;
    phone.send("USER phone 0 * :Alice").await;
    let welcome = phone.collect_until("366", |l| l.command == "366").await;
    assert!(welcome
        .iter()
        .any(|l| l.command == "JOIN" && l.params[0] == "#room"));
    bob.join("#room").await;

    bob.say("#room", "to everyone").await;
    laptop
        .expect("on the laptop", |l| {
            l.command == "PRIVMSG" && l.text() == "to everyone"
        })
        .await;
    phone
        .expect("on the phone", |l| {
            l.command == "PRIVMSG" && l.text() == "to everyone"
        })
        .await;
    // The laptop's message reaches the phone; with echo-message the phone sees its own.
    laptop.send("PRIVMSG #room :from the laptop").await;
    let mine = phone
        .expect("the laptop's message", |l| {
            l.command == "PRIVMSG" && l.text() == "from the laptop"
        })
        .await;
    assert_eq!(mine.nick(), "alice");
    phone.send("PRIVMSG #room :from the phone").await;
    let echo = phone
        .expect("the echo", |l| {
            l.command == "PRIVMSG" && l.text() == "from the phone"
        })
        .await;
    assert!(echo.tag("msgid").is_some(), "{}", echo.raw);
    laptop
        .expect("the phone's message", |l| {
            l.command == "PRIVMSG" && l.text() == "from the phone"
        })
        .await;

    // A nick change from one device is seen by both, once each.
    laptop.send("NICK alicia").await;
    let nick = laptop.expect("NICK", |l| l.command == "NICK").await;
    assert_eq!((nick.nick(), nick.text()), ("alice", "alicia"));
    phone
        .expect("NICK", |l| l.command == "NICK" && l.text() == "alicia")
        .await;
    let more = answers(&mut phone, "n").await;
    assert!(!has(&more, "NICK"), "one NICK line: {more:?}");
    let profile = bob.api.get("/api/v1/users/alicia").await.expect(200);
    assert_eq!(profile["nick"], "alicia");
    phone.send("PRIVMSG #room :renamed").await;
    let seen = bob
        .wait_for(&mut 0, "the renamed user", |e| e["body"] == "renamed")
        .await;
    assert_eq!(seen["from"], "alicia@hs1.test");
}

#[actix_web::test]
async fn rich_events_degrade_and_history_answers() {
    let hs = start("hs1.test");
    let bob = User::register(&hs.url, "bob").await;
    User::register(&hs.url, "alice").await;
    let mut c = IrcClient::connect(&irc(&hs)).await;
    c.send(&format!("PASS :{PASSWORD}")).await;
    c.send("CAP REQ :message-tags server-time batch draft/chathistory")
        .await;
    c.send("CAP END").await;
    c.send("NICK alice").await;
    c.send("USER laptop 0 * :Alice").await;
    c.expect_command("001").await;
    c.send("JOIN #room").await;
    answers(&mut c, "j").await;
    bob.join("#room").await;

    let first = bob.say("#room", "original").await;
    let id = first["id"].as_str().unwrap().to_string();
    let line = c.expect("original", |l| l.text() == "original").await;
    assert_eq!(line.tag("msgid"), Some(id.as_str()));
    bob.api
        .post(
            "/api/v1/messages",
            json!({"to": "#room", "body": "a reply", "reply_to": id}),
        )
        .await
        .expect(201);
    let reply = c.expect("reply", |l| l.text() == "a reply").await;
    assert_eq!(reply.tag("+draft/reply"), Some(id.as_str()));
    bob.api
        .put(
            &format!("/api/v1/messages/{id}"),
            json!({"body": "changed"}),
        )
        .await
        .expect(200);
    c.expect("edit", |l| {
        l.command == "PRIVMSG" && l.text() == "[edited] changed"
    })
    .await;
    bob.api
        .post(
            &format!("/api/v1/messages/{id}/reactions"),
            json!({"emoji": "👍"}),
        )
        .await
        .expect(201);
    let react = c.expect("TAGMSG", |l| l.command == "TAGMSG").await;
    assert_eq!(react.tag("+draft/react"), Some("👍"));
    assert_eq!(react.tag("+draft/reply"), Some(id.as_str()));
    // A reaction from IRC.
    c.send(&format!("@+draft/react=🎉;+draft/reply={id} TAGMSG #room"))
        .await;
    let reactions =
        hearth_tests::eventually(Duration::from_secs(10), "the IRC reaction", || async {
            let m = bob
                .api
                .get(&format!("/api/v1/messages/{id}"))
                .await
                .expect(200);
            let r = m["reactions"].as_array().cloned().unwrap_or_default();
            (r.len() == 2).then_some(r)
        })
        .await;
    assert!(reactions.iter().any(|r| r["emoji"] == "🎉"));
    bob.api
        .delete(&format!("/api/v1/messages/{id}"))
        .await
        .expect(200);
    c.expect("delete", |l| {
        l.command == "NOTICE" && l.text().contains("deleted")
    })
    .await;

    // CHATHISTORY LATEST and BEFORE, oldest first, in a batch.
    for body in ["h1", "h2", "h3"] {
        bob.say("#room", body).await;
    }
    c.expect("h3", |l| l.text() == "h3").await;
    c.send("CHATHISTORY LATEST #room * 2").await;
    let batch = c
        .collect_until("BATCH end", |l| {
            l.command == "BATCH" && l.params[0].starts_with('-')
        })
        .await;
    let bodies: Vec<&str> = batch
        .iter()
        .filter(|l| l.command == "PRIVMSG")
        .map(|l| l.text())
        .collect();
    assert_eq!(bodies, ["h2", "h3"]);
    let h2 = batch
        .iter()
        .find(|l| l.text() == "h2")
        .unwrap()
        .tag("msgid")
        .unwrap()
        .to_string();
    c.send(&format!("CHATHISTORY BEFORE #room msgid={h2} 1"))
        .await;
    let batch = c
        .collect_until("BATCH end", |l| {
            l.command == "BATCH" && l.params[0].starts_with('-')
        })
        .await;
    let bodies: Vec<&str> = batch
        .iter()
        .filter(|l| l.command == "PRIVMSG")
        .map(|l| l.text())
        .collect();
    assert_eq!(bodies, ["h1"]);
    c.send("CHATHISTORY LATEST #elsewhere * 5").await;
    c.expect("FAIL", |l| l.command == "FAIL").await;
}

#[actix_web::test]
async fn remote_channels_and_users_have_irc_names() {
    let irc_on = vec![("IRC_PORT", "0")];
    let (_dir, servers) = federated_with(&[("hs1.test", irc_on), ("hs2.test", Vec::new())]).await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    User::register(&hs1.url, "alice").await;
    let carol = User::register(&hs2.url, "carol").await;
    carol.join("#far").await;
    let mut c = login(&hs1, "alice", "laptop").await;

    c.send("JOIN #far@hs2.test").await;
    let joined = answers(&mut c, "j").await;
    assert!(
        joined
            .iter()
            .any(|l| l.command == "JOIN" && l.params[0] == "#far@hs2.test"),
        "{joined:?}"
    );
    let names = joined.iter().find(|l| l.command == "353").expect("NAMES");
    assert!(
        names.text().split(' ').any(|n| n == "@carol|hs2_test"),
        "{}",
        names.raw
    );

    carol.say("#far", "hello from hs2").await;
    let got = c
        .expect("carol's message", |l| l.text() == "hello from hs2")
        .await;
    assert_eq!(got.source, "carol|hs2_test!carol@hs2.test");
    assert_eq!(got.params[0], "#far@hs2.test");

    // A DM to the IRC form of a remote nick reaches them; their answer comes from that nick.
    c.send("PRIVMSG carol|hs2_test :hi carol").await;
    let mut cursor = 0;
    let dm = carol
        .wait_for(&mut cursor, "alice's DM", |e| e["body"] == "hi carol")
        .await;
    assert_eq!(dm["from"], "alice@hs1.test");
    carol.say("alice@hs1.test", "hi alice").await;
    let back = c.expect("carol's DM", |l| l.text() == "hi alice").await;
    assert_eq!(back.nick(), "carol|hs2_test");
    assert_eq!(back.params[0], "alice");
    c.send("WHOIS carol|hs2_test").await;
    let whois = c.collect_until("318", |l| l.command == "318").await;
    assert!(
        whois
            .iter()
            .any(|l| l.command == "311" && l.params[1] == "carol|hs2_test"),
        "{whois:?}"
    );
}

#[actix_web::test]
async fn the_gateway_speaks_tls_with_the_servers_certificate() {
    let cert = hearth_tests::tls::test_ca().issue();
    let mut env = cert.env();
    env.push(("IRC_TLS_PORT", "0"));
    let hs = start_with("hs1.test", &env);
    User::register(&hs.url, "alice").await;
    let ca = std::fs::read(cert.ca()).expect("the CA file");
    let addr = hs.ircs_addr.clone().expect("the IRC TLS address");
    let mut c = IrcClient::connect_tls(&addr, &ca).await;
    c.send(&format!("PASS :{PASSWORD}")).await;
    c.send("NICK alice").await;
    c.send("USER tls 0 * :Alice").await;
    let welcome = c.expect_command("001").await;
    assert_eq!(welcome.params[0], "alice");
    // The plain port is there too; the other device's join reaches this one.
    let mut plain = login(&hs, "alice", "plain").await;
    plain.send("JOIN #secure").await;
    c.expect("the join", |l| {
        l.command == "JOIN" && l.params[0] == "#secure"
    })
    .await;
}
