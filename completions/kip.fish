# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_kip_global_optspecs
    string join \n q/quiet h/help V/version
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
complete -c kip -n "__fish_kip_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c kip -n "__fish_kip_needs_command" -f -a "man" -d 'Print the man page (roff)'
complete -c kip -n "__fish_kip_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kip -n "__fish_kip_using_subcommand up" -l image -d 'Node image (default: kip\'s node image, built locally on first use)' -r
complete -c kip -n "__fish_kip_using_subcommand up" -l api-port -d 'Host port for the API server on 127.0.0.1 (default: a free port)' -r
complete -c kip -n "__fish_kip_using_subcommand up" -l wait -d 'How long to wait for the API server to answer /readyz' -r
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
complete -c kip -n "__fish_kip_using_subcommand up" -l recreate -d 'Delete an existing cluster of this name first'
complete -c kip -n "__fish_kip_using_subcommand up" -l dry-run -d 'Print the node plan as YAML and change nothing'
complete -c kip -n "__fish_kip_using_subcommand up" -l keep-on-failure -d 'Leave the node in place when `up` fails or is interrupted, for debugging'
complete -c kip -n "__fish_kip_using_subcommand up" -l no-switch-context -d 'Do not make the new context the current one'
complete -c kip -n "__fish_kip_using_subcommand up" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand up" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kip -n "__fish_kip_using_subcommand up" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand down" -l kubeconfig -d 'The kubeconfig file to update (default: kubectl\'s rules: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kip -n "__fish_kip_using_subcommand down" -l all -d 'Delete every kip cluster on this Docker engine'
complete -c kip -n "__fish_kip_using_subcommand down" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand down" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand down" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand list" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand list" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand list" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand status" -s o -l output -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand status" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand status" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand status" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand kubeconfig" -l output -d 'Write to FILE (mode 0600) instead of stdout' -r -F
complete -c kip -n "__fish_kip_using_subcommand kubeconfig" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand kubeconfig" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand kubeconfig" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand logs" -s f -l follow -d 'Keep printing new lines'
complete -c kip -n "__fish_kip_using_subcommand logs" -l dockerd -d 'Print the node\'s dockerd log instead of the bootstrap log'
complete -c kip -n "__fish_kip_using_subcommand logs" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand logs" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand logs" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand exec" -s i -l interactive -d 'Pass stdin to the command'
complete -c kip -n "__fish_kip_using_subcommand exec" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand exec" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand exec" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand doctor" -l image -d 'Node image for the privileged-container check (default: kip\'s node image)' -r
complete -c kip -n "__fish_kip_using_subcommand doctor" -s o -l output -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c kip -n "__fish_kip_using_subcommand doctor" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand completions" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand completions" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand completions" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand man" -s q -l quiet -d 'Print nothing but errors and requested data'
complete -c kip -n "__fish_kip_using_subcommand man" -s h -l help -d 'Print help'
complete -c kip -n "__fish_kip_using_subcommand man" -s V -l version -d 'Print version'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor completions man help" -f -a "up" -d 'Create a cluster (or re-export the kubeconfig of a running one)'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor completions man help" -f -a "down" -d 'Delete clusters: the node, its volume and its kubeconfig entries'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor completions man help" -f -a "list" -d 'List kip clusters'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor completions man help" -f -a "status" -d 'Show a cluster\'s phase, age, endpoint, image and versions'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor completions man help" -f -a "kubeconfig" -d 'Print a cluster\'s kubeconfig to stdout (or --output FILE)'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor completions man help" -f -a "logs" -d 'Print the node\'s bootstrap log (or its dockerd log)'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor completions man help" -f -a "exec" -d 'Run a command inside a cluster\'s node; its exit code is passed through'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor completions man help" -f -a "doctor" -d 'Check this machine and Docker engine for what breaks clusters'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor completions man help" -f -a "man" -d 'Print the man page (roff)'
complete -c kip -n "__fish_kip_using_subcommand help; and not __fish_seen_subcommand_from up down list status kubeconfig logs exec doctor completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
