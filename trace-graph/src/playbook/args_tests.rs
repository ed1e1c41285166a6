use super::*;
use crate::playbook::{Param, ParamKind, Question};

const PARAMS: &[Param] = &[
    Param {
        name: "projects",
        kind: ParamKind::TextList,
        required: false,
        default: None,
        description: "projects",
    },
    Param {
        name: "user",
        kind: ParamKind::Text,
        required: true,
        default: None,
        description: "the user's name",
    },
    Param {
        name: "limit",
        kind: ParamKind::Integer,
        required: false,
        default: Some("10"),
        description: "rows",
    },
    Param {
        name: "from",
        kind: ParamKind::DateTime,
        required: false,
        default: None,
        description: "start",
    },
];

const Q: Question = Question {
    name: "test-question",
    section: "Test",
    title: "Test?",
    description: "test",
    cypher: "RETURN 1",
    params: PARAMS,
    columns: &["x"],
};

fn problem(args: &Args) -> String {
    match bind(&Q, args) {
        Err(Error::Question { question, problem }) => {
            assert_eq!(question, "test-question");
            problem
        }
        other => panic!("expected a question error, got {other:?}"),
    }
}

#[test]
fn binds_every_declared_parameter_with_defaults_and_nulls() {
    let args = Args::new()
        .with("user", "alice")
        .with("projects", "p1, p2")
        .with("projects", "p3,");
    let bound = bind(&Q, &args).expect("valid");
    let names: Vec<&str> = bound.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["projects", "user", "limit", "from"]);
    assert_eq!(
        bound[0].1,
        BoltType::from(vec!["p1".to_owned(), "p2".to_owned(), "p3".to_owned()])
    );
    assert_eq!(bound[1].1, BoltType::from("alice".to_owned()));
    assert_eq!(bound[2].1, BoltType::from(10_i64));
    assert_eq!(bound[3].1, BoltType::from(None::<String>));
}

#[test]
fn an_absent_list_is_empty_not_null() {
    let bound = bind(&Q, &Args::new().with("user", "a")).expect("valid");
    assert_eq!(bound[0].1, BoltType::from(Vec::<String>::new()));
}

#[test]
fn values_that_look_like_cypher_stay_values() {
    let evil = "x' RETURN 1 //";
    let bound = bind(&Q, &Args::new().with("user", evil)).expect("valid");
    assert_eq!(bound[1].1, BoltType::from(evil.to_owned()));
}

#[test]
fn mistakes_name_the_parameter_and_the_fix() {
    let p = problem(&Args::new());
    assert!(p.contains("`user` is required"), "{p}");
    let p = problem(&Args::new().with("user", "  "));
    assert!(p.contains("`user` is required"), "{p}");
    let p = problem(&Args::new().with("user", "a").with("usr", "b"));
    assert!(p.contains("unknown parameter `usr`"), "{p}");
    assert!(p.contains("projects, user, limit, from"), "{p}");
    let p = problem(&Args::new().with("user", "a").with("user", "b"));
    assert!(p.contains("takes one value, got 2"), "{p}");
    let p = problem(&Args::new().with("user", "a").with("limit", "ten"));
    assert!(p.contains("`limit` must be a whole number"), "{p}");
    let p = problem(&Args::new().with("user", "a").with("from", "yesterday"));
    assert!(p.contains("`from` must be an ISO-8601"), "{p}");
    assert!(p.contains("\"yesterday\""), "{p}");
}

#[test]
fn pairs_are_split_at_the_first_equals_sign() {
    let mut args = Args::new();
    args.push_pair("user=a=b").expect("pair");
    assert_eq!(args.get("user"), Some(&["a=b".to_owned()][..]));
    assert!(args.push_pair("user").is_err());
    assert!(args.push_pair("=x").is_err());
}

#[test]
fn datetimes() {
    for ok in [
        "2024-06-03",
        "2024-06-03T08:00",
        "2024-06-03T08:00:59",
        "2024-06-03T08:00:00Z",
        "2024-06-03T08:00:00.123Z",
        "2024-06-03T08:00:00+02:00",
        "2024-06-03T23:59-05:30",
    ] {
        assert_eq!(check_datetime(ok), Ok(()), "{ok}");
    }
    for bad in [
        "",
        "2024-6-3",
        "2024-13-01",
        "2024-06-00",
        "2024-06-03 08:00",
        "2024-06-03T24:00",
        "2024-06-03T08:60",
        "2024-06-03T08:00:00.Z",
        "2024-06-03T08:00:00+2",
        "2024-06-03T08:00:00Zjunk",
        "P1D",
    ] {
        assert!(check_datetime(bad).is_err(), "{bad}");
    }
}
