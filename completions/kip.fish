# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_kip_global_optspecs
    string join \n q/quiet progress= h/help V/version
end

function __fish_kip_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_kip_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_kip_using_subcommand
    set -l cmd (__fish_kip_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c kip -n "__fish_kip_needs_command" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_needs_command" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_needs_command" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_needs_command" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_needs_command" -f -a "up" -d 'Create a cluster (or re-export the kubeconfig of a running one)'
complete -c kip -n "__fish_kip_needs_command" -f -a "down" -d 'Delete clusters: the node, its volume and its kubeconfig entries'
complete -c kip -n "__fish_kip_needs_command" -f -a "list" -d 'List kip clusters'
complete -c kip -n "__fish_kip_needs_command" -f -a "status" -d 'Show a cluster\'s phase, age, endpoint, image and versions'
complete -c kip -n "__fish_kip_needs_command" -f -a "kubeconfig" -d 'Print a cluster\'s kubeconfig to stdout (or --output FILE)'
complete -c kip -n "__fish_kip_needs_command" -f -a "logs" -d 'Print the node\'s bootstrap log (or its dockerd log)'
complete -c kip -n "__fish_kip_needs_command" -f -a "exec" -d 'Run a command inside a cluster\'s node; its exit code is passed through'
complete -c kip -n "__fish_kip_needs_command" -f -a "doctor" -d 'Check this machine and Docker engine for what breaks clusters'
complete -c kip -n "__fish_kip_needs_command" -f -a "run" -d 'Create a cluster, run CMD against it, and always delete the cluster'
complete -c kip -n "__fish_kip_needs_command" -f -a "gc" -d 'Delete expired clusters (--ttl), or old ones (--older-than)'
complete -c kip -n "__fish_kip_needs_command" -f -a "load" -d 'Load images from the host into a cluster'
complete -c kip -n "__fish_kip_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c kip -n "__fish_kip_needs_command" -f -a "man" -d 'Print the man page (roff)'
complete -c kip -n "__fish_kip_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kip -n "__fish_kip_using_subcommand up" -s o -l output -d 'Print the result as JSON on stdout' -r -f -a "text\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand up" -l image -d 'Node image (default: kip\'s node image, built locally on first use)' -r
complete -c kip -n "__fish_kip_using_subcommand up" -l api-port -d 'Host port for the API server on 127.0.0.1 (default: a free port)' -r
complete -c kip -n "__fish_kip_using_subcommand up" -l wait -d 'How long to wait for the API server to answer /readyz' -r
complete -c kip -n "__fish_kip_using_subcommand up" -l ttl -d 'Delete the cluster after this long, with `kip gc` (e.g. 2h)' -r
complete -c kip -n "__fish_kip_using_subcommand up" -l logs-dir -d 'On failure, collect the logs bundle into DIR before cleaning up' -r -F
complete -c kip -n "__fish_kip_using_subcommand up" -l security -d 'How the node container gets its privileges' -r -f -a "auto\t'Try privileged; if the engine refuses it, fall back to `caps`'
privileged\t'A privileged container'
caps\t'All capabilities but SYS_RESOURCE, unconfined seccomp/AppArmor, all devices'"
complete -c kip -n "__fish_kip_using_subcommand up" -l network -d 'Docker network for the node (default: the engine\'s default bridge)' -r
complete -c kip -n "__fish_kip_using_subcommand up" -l mtu -d 'MTU of the node\'s inner Docker bridge (default: the node\'s own interface MTU)' -r
complete -c kip -n "__fish_kip_using_subcommand up" -l iptables -d 'iptables backend for the node\'s inner Docker' -r -f -a "auto\t'Legacy when legacy tables already hold rules or nft is unusable, else nft'
legacy\t''
nft\t''"
complete -c kip -n "__fish_kip_using_subcommand up" -l cert-san -d 'Extra name or IP for the API server certificate (repeatable)' -r
complete -c kip -n "__fish_kip_using_subcommand up" -l kind-config -d 'A kind config of your own to merge with kip\'s (nodes, feature gates, patches, port mappings)' -r -F
complete -c kip -n "__fish_kip_using_subcommand up" -l dockerd-arg -d 'Extra argument for the node\'s dockerd (repeatable)' -r
complete -c kip -n "__fish_kip_using_subcommand up" -l kubeconfig -d 'The kubeconfig file to update (default: kubectl\'s rules: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kip -n "__fish_kip_using_subcommand up" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand up" -l recreate -d 'Delete an existing cluster of this name first'
complete -c kip -n "__fish_kip_using_subcommand up" -l dry-run -d 'Print the node plan as YAML and change nothing'
complete -c kip -n "__fish_kip_using_subcommand up" -l no-switch-context -d 'Do not make the new context the current one'
complete -c kip -n "__fish_kip_using_subcommand up" -l keep-on-failure -d 'Leave the node in place when `up` fails or is interrupted, for debugging'
complete -c kip -n "__fish_kip_using_subcommand up" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand up" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kip -n "__fish_kip_using_subcommand up" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand down" -l kubeconfig -d 'The kubeconfig file to update (default: kubectl\'s rules: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kip -n "__fish_kip_using_subcommand down" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand down" -l all -d 'Delete every kip cluster on this Docker engine'
complete -c kip -n "__fish_kip_using_subcommand down" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand down" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand down" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand list" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand list" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand list" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand list" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand status" -s o -l output -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand status" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand status" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand status" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand status" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand kubeconfig" -l output -d 'Write to FILE (mode 0600) instead of stdout' -r -F
complete -c kip -n "__fish_kip_using_subcommand kubeconfig" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand kubeconfig" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand kubeconfig" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand kubeconfig" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand logs" -l export -d 'Write the whole logs bundle into DIR instead' -r -F
complete -c kip -n "__fish_kip_using_subcommand logs" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand logs" -s f -l follow -d 'Keep printing new lines'
complete -c kip -n "__fish_kip_using_subcommand logs" -l dockerd -d 'Print the node\'s dockerd log instead of the bootstrap log'
complete -c kip -n "__fish_kip_using_subcommand logs" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand logs" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand logs" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand exec" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand exec" -s i -l interactive -d 'Pass stdin to the command'
complete -c kip -n "__fish_kip_using_subcommand exec" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand exec" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand exec" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand doctor" -l image -d 'Node image for the privileged-container check (default: kip\'s node image)' -r
complete -c kip -n "__fish_kip_using_subcommand doctor" -s o -l output -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand doctor" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand doctor" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand run" -l name -d 'Cluster name (default: run-<random>)' -r
complete -c kip -n "__fish_kip_using_subcommand run" -l reuse -d 'Use this existing cluster instead of creating one (it is not deleted)' -r
complete -c kip -n "__fish_kip_using_subcommand run" -l timeout -d 'Stop CMD (SIGTERM, then SIGKILL after 10s) when it runs longer than this' -r
complete -c kip -n "__fish_kip_using_subcommand run" -l image -d 'Node image (default: kip\'s node image, built locally on first use)' -r
complete -c kip -n "__fish_kip_using_subcommand run" -l api-port -d 'Host port for the API server on 127.0.0.1 (default: a free port)' -r
complete -c kip -n "__fish_kip_using_subcommand run" -l wait -d 'How long to wait for the API server to answer /readyz' -r
complete -c kip -n "__fish_kip_using_subcommand run" -l ttl -d 'Delete the cluster after this long, with `kip gc` (e.g. 2h)' -r
complete -c kip -n "__fish_kip_using_subcommand run" -l logs-dir -d 'On failure, collect the logs bundle into DIR before cleaning up' -r -F
complete -c kip -n "__fish_kip_using_subcommand run" -l security -d 'How the node container gets its privileges' -r -f -a "auto\t'Try privileged; if the engine refuses it, fall back to `caps`'
privileged\t'A privileged container'
caps\t'All capabilities but SYS_RESOURCE, unconfined seccomp/AppArmor, all devices'"
complete -c kip -n "__fish_kip_using_subcommand run" -l network -d 'Docker network for the node (default: the engine\'s default bridge)' -r
complete -c kip -n "__fish_kip_using_subcommand run" -l mtu -d 'MTU of the node\'s inner Docker bridge (default: the node\'s own interface MTU)' -r
complete -c kip -n "__fish_kip_using_subcommand run" -l iptables -d 'iptables backend for the node\'s inner Docker' -r -f -a "auto\t'Legacy when legacy tables already hold rules or nft is unusable, else nft'
legacy\t''
nft\t''"
complete -c kip -n "__fish_kip_using_subcommand run" -l cert-san -d 'Extra name or IP for the API server certificate (repeatable)' -r
complete -c kip -n "__fish_kip_using_subcommand run" -l kind-config -d 'A kind config of your own to merge with kip\'s (nodes, feature gates, patches, port mappings)' -r -F
complete -c kip -n "__fish_kip_using_subcommand run" -l dockerd-arg -d 'Extra argument for the node\'s dockerd (repeatable)' -r
complete -c kip -n "__fish_kip_using_subcommand run" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand run" -l keep -d 'Keep the cluster after CMD ends'
complete -c kip -n "__fish_kip_using_subcommand run" -l keep-on-failure -d 'Leave the node in place when `up` fails or is interrupted, for debugging'
complete -c kip -n "__fish_kip_using_subcommand run" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kip -n "__fish_kip_using_subcommand run" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand gc" -l older-than -d 'Also delete clusters without a TTL that are older than this (e.g. 24h)' -r
complete -c kip -n "__fish_kip_using_subcommand gc" -s o -l output -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand gc" -l kubeconfig -d 'The kubeconfig file to update (default: kubectl\'s rules: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kip -n "__fish_kip_using_subcommand gc" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand gc" -l dry-run -d 'List what would be deleted, delete nothing'
complete -c kip -n "__fish_kip_using_subcommand gc" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand gc" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand gc" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand load" -l archive -d 'An image archive (`docker save` output) instead of images' -r -F
complete -c kip -n "__fish_kip_using_subcommand load" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand load" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand load" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand load" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand completions" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand completions" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand completions" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand completions" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand man" -l progress -d 'How progress is shown on stderr: for people, or one JSON object per line' -r -f -a "human\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand man" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand man" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand man" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "up" -d 'Create a cluster (or re-export the kubeconfig of a running one)'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "down" -d 'Delete clusters: the node, its volume and its kubeconfig entries'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "list" -d 'List kip clusters'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "status" -d 'Show a cluster\'s phase, age, endpoint, image and versions'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "kubeconfig" -d 'Print a cluster\'s kubeconfig to stdout (or --output FILE)'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "logs" -d 'Print the node\'s bootstrap log (or its dockerd log)'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "exec" -d 'Run a command inside a cluster\'s node; its exit code is passed through'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "doctor" -d 'Check this machine and Docker engine for what breaks clusters'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "run" -d 'Create a cluster, run CMD against it, and always delete the cluster'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "gc" -d 'Delete expired clusters (--ttl), or old ones (--older-than)'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "load" -d 'Load images from the host into a cluster'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "man" -d 'Print the man page (roff)'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor run gc load completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
