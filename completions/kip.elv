
use builtin;
use str;

set edit:completion:arg-completer[kip] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'kip'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'kip'= {
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand up 'Create a cluster (or re-export the kubeconfig of a running one)'
            cand down 'Delete clusters: the node, its volume and its kubeconfig entries'
            cand list 'List kip clusters'
            cand status 'Show a cluster''s phase, age, endpoint, image and versions'
            cand kubeconfig 'Print a cluster''s kubeconfig to stdout (or --output FILE)'
            cand logs 'Print the node''s bootstrap log (or its dockerd log)'
            cand exec 'Run a command inside a cluster''s node; its exit code is passed through'
            cand doctor 'Check this machine and Docker engine for what breaks clusters'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page (roff)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'kip;up'= {
            cand --image 'Node image (default: kip''s node image, built locally on first use)'
            cand --api-port 'Host port for the API server on 127.0.0.1 (default: a free port)'
            cand --wait 'How long to wait for the API server to answer /readyz'
            cand --security 'How the node container gets its privileges'
            cand --network 'Docker network for the node (default: the engine''s default bridge)'
            cand --mtu 'MTU of the node''s inner Docker bridge (default: the node''s own interface MTU)'
            cand --iptables 'iptables backend for the node''s inner Docker'
            cand --cert-san 'Extra name or IP for the API server certificate (repeatable)'
            cand --kind-config 'A kind config of your own to merge with kip''s (nodes, feature gates, patches, port mappings)'
            cand --dockerd-arg 'Extra argument for the node''s dockerd (repeatable)'
            cand --kubeconfig 'The kubeconfig file to update (default: kubectl''s rules: $KUBECONFIG, then ~/.kube/config)'
            cand --recreate 'Delete an existing cluster of this name first'
            cand --dry-run 'Print the node plan as YAML and change nothing'
            cand --keep-on-failure 'Leave the node in place when `up` fails or is interrupted, for debugging'
            cand --no-switch-context 'Do not make the new context the current one'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;down'= {
            cand --kubeconfig 'The kubeconfig file to update (default: kubectl''s rules: $KUBECONFIG, then ~/.kube/config)'
            cand --all 'Delete every kip cluster on this Docker engine'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;list'= {
            cand -o 'Output format'
            cand --output 'Output format'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;status'= {
            cand -o 'Output format'
            cand --output 'Output format'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;kubeconfig'= {
            cand --output 'Write to FILE (mode 0600) instead of stdout'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;logs'= {
            cand -f 'Keep printing new lines'
            cand --follow 'Keep printing new lines'
            cand --dockerd 'Print the node''s dockerd log instead of the bootstrap log'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;exec'= {
            cand -i 'Pass stdin to the command'
            cand --interactive 'Pass stdin to the command'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;doctor'= {
            cand --image 'Node image for the privileged-container check (default: kip''s node image)'
            cand -o 'Output format'
            cand --output 'Output format'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;completions'= {
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;man'= {
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;help'= {
            cand up 'Create a cluster (or re-export the kubeconfig of a running one)'
            cand down 'Delete clusters: the node, its volume and its kubeconfig entries'
            cand list 'List kip clusters'
            cand status 'Show a cluster''s phase, age, endpoint, image and versions'
            cand kubeconfig 'Print a cluster''s kubeconfig to stdout (or --output FILE)'
            cand logs 'Print the node''s bootstrap log (or its dockerd log)'
            cand exec 'Run a command inside a cluster''s node; its exit code is passed through'
            cand doctor 'Check this machine and Docker engine for what breaks clusters'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page (roff)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'kip;help;up'= {
        }
        &'kip;help;down'= {
        }
        &'kip;help;list'= {
        }
        &'kip;help;status'= {
        }
        &'kip;help;kubeconfig'= {
        }
        &'kip;help;logs'= {
        }
        &'kip;help;exec'= {
        }
        &'kip;help;doctor'= {
        }
        &'kip;help;completions'= {
        }
        &'kip;help;man'= {
        }
        &'kip;help;help'= {
        }
    ]
    $completions[$command]
}
