//! Host ports' tests: every refusal names its field, and what kip publishes.

use super::*;

fn config(user: &str) -> KindConfig {
    KindConfig::with_user_config(&[], &[], user).unwrap()
}

#[test]
fn failures_read_as_written_and_exit_by_their_family() {
    let port = parse_port_flag("127.0.0.1:8080:80").unwrap();
    let taken = |holder| PortError::Taken {
        port: port.clone(),
        holder,
    };
    let table = [
        (PortError::Invalid { error: "nodes[0].extraPortMappings[1]: x".into() }, 2,
         "-p: nodes[0].extraPortMappings[1]: x".to_string()),
        (PortError::Remote, 2, format!("-p: {REMOTE_REFUSAL}")),
        (taken(Holder::Container("web".into())), 3,
         "host port 127.0.0.1:8080/tcp is already in use (container web publishes it): pick another host port for the kind node's port 80; nothing was made".into()),
        (taken(Holder::Process), 3,
         "host port 127.0.0.1:8080/tcp is already in use (a process of this machine listens on it): pick another host port for the kind node's port 80; nothing was made".into()),
        (taken(Holder::NotHere), 3,
         "host port 127.0.0.1:8080/tcp is already in use (127.0.0.1 is not an address of this machine): pick another host port for the kind node's port 80; nothing was made".into()),
    ];
    for (error, code, words) in table {
        assert_eq!(error.to_string(), words);
        assert_eq!(error.code(), code, "{words}");
    }
}

#[test]
fn port_flags_read_like_docker_run() {
    let p = parse_port_flag("8080:80").unwrap();
    assert_eq!(
        (
            p.listen_address.as_str(),
            p.host_port,
            p.container_port,
            p.protocol
        ),
        ("0.0.0.0", 8080, 80, Protocol::Tcp)
    );
    let p = parse_port_flag("127.0.0.1:5353:53/udp").unwrap();
    assert_eq!(
        (
            p.listen_address.as_str(),
            p.host_port,
            p.container_port,
            p.protocol
        ),
        ("127.0.0.1", 5353, 53, Protocol::Udp)
    );
    let p = parse_port_flag("[::1]:8443:443/tcp").unwrap();
    assert_eq!((p.listen_address.as_str(), p.host_port), ("::1", 8443));
    for (bad, says) in [
        ("8080", "expected [ADDRESS:]HOST_PORT"),
        ("0:80", "not a port"),
        ("8080:70000", "not a port"),
        ("8080:80/sctp", "tcp or udp"),
        ("localhost:8080:80", "not an IP address"),
        ("a:b:c:d", "expected"),
    ] {
        let err = parse_port_flag(bad).unwrap_err();
        assert!(err.contains(says), "{bad}: {err}");
    }
}

#[test]
fn descriptions_round_trip() {
    for text in ["8080:80", "127.0.0.1:5353:53/udp", "[::1]:8443:443"] {
        let port = parse_port_flag(text).unwrap();
        assert_eq!(
            HostPort::parse_description(&port.describe()),
            Some(port.clone())
        );
    }
    assert_eq!(
        parse_port_flag("8080:80").unwrap().describe(),
        "0.0.0.0:8080->80/tcp (control-plane)"
    );
}

#[test]
fn flags_go_to_the_control_plane_and_inner_mappings_listen_everywhere() {
    let mut config = config(
        "nodes:\n- role: worker\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 30080\n    hostPort: 8080\n    listenAddress: 127.0.0.1\n- role: worker\n",
    );
    let flags = [parse_port_flag("5353:53/udp").unwrap()];
    let ports = publish(&mut config, &flags).unwrap();
    let described: Vec<String> = ports.iter().map(HostPort::describe).collect();
    assert_eq!(
        described,
        [
            "127.0.0.1:8080->30080/tcp (control-plane)",
            "0.0.0.0:5353->53/udp (control-plane)"
        ]
    );
    let yaml = config.to_yaml();
    assert_eq!(yaml.matches("listenAddress: 0.0.0.0").count(), 2, "{yaml}");
    assert!(!yaml.contains("127.0.0.1"), "{yaml}");
    assert_eq!(kind_node_count(&config), 3);
}

#[test]
fn a_flag_without_nodes_makes_the_one_node_kind_would() {
    let mut config = config("");
    let ports = publish(&mut config, &[parse_port_flag("8080:80").unwrap()]).unwrap();
    assert_eq!(ports.len(), 1);
    let nodes = config.extra["nodes"].as_sequence().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["role"], "control-plane");
    assert_eq!(nodes[0]["extraPortMappings"][0]["hostPort"], 8080);
    assert_eq!(kind_node_count(&KindConfig::new(&[], &[])), 1);
}

#[test]
fn worker_names_follow_kinds() {
    let mut config = config(
        "nodes:\n- role: control-plane\n- role: worker\n- role: worker\n  extraPortMappings:\n  - containerPort: 80\n    hostPort: 9080\n",
    );
    let ports = publish(&mut config, &[]).unwrap();
    assert_eq!(ports[0].node, "worker2");
}

#[test]
fn bad_mappings_name_the_field() {
    let cases = [
        (
            "nodes:\n- extraPortMappings:\n  - containerPort: 80\n",
            "nodes[0].extraPortMappings[0].hostPort is required",
        ),
        (
            "nodes:\n- extraPortMappings:\n  - hostPort: 80\n",
            "nodes[0].extraPortMappings[0].containerPort is required",
        ),
        (
            "nodes:\n- extraPortMappings:\n  - {containerPort: 80, hostPort: 6443}\n",
            "API server's port inside kip's node",
        ),
        (
            "nodes:\n- extraPortMappings:\n  - {containerPort: 80, hostPort: 81, protocol: SCTP}\n",
            "protocol is SCTP",
        ),
        (
            "nodes:\n- extraPortMappings:\n  - {containerPort: 80, hostPort: 81, listenAddress: localhost}\n",
            "listenAddress must be an IP address",
        ),
        (
            "nodes:\n- extraPortMappings:\n  - {containerPort: 80, hostPort: 81}\n- role: worker\n  extraPortMappings:\n  - {containerPort: 90, hostPort: 81}\n",
            "nodes[1].extraPortMappings[0]: host port 81/tcp is mapped twice",
        ),
    ];
    for (user, says) in cases {
        let err = publish(&mut config(user), &[]).unwrap_err();
        assert!(err.contains(says), "{says}: {err}");
    }
    // The same number over TCP and UDP is two ports.
    let both = "nodes:\n- extraPortMappings:\n  - {containerPort: 53, hostPort: 5353}\n  - {containerPort: 53, hostPort: 5353, protocol: UDP}\n";
    assert_eq!(publish(&mut config(both), &[]).unwrap().len(), 2);
    // A -p that repeats the config's port is refused too.
    let err = publish(
        &mut config("nodes:\n- extraPortMappings:\n  - {containerPort: 80, hostPort: 8080}\n"),
        &[parse_port_flag("8080:81").unwrap()],
    )
    .unwrap_err();
    assert!(err.contains("mapped twice"), "{err}");
}
