
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
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
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
            cand run 'Create a cluster, run CMD against it, and always delete the cluster'
            cand gc 'Delete expired clusters (--ttl), or old ones (--older-than)'
            cand load 'Load images from the host into a cluster'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page (roff)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'kip;up'= {
            cand -o 'Print the result as JSON on stdout'
            cand --output 'Print the result as JSON on stdout'
            cand --image 'Node image (default: kip''s node image, built locally on first use)'
            cand --api-port 'Host port for the API server on 127.0.0.1 (default: a free port)'
            cand --wait 'How long to wait for the API server to answer /readyz'
            cand --ttl 'Delete the cluster after this long, with `kip gc` (e.g. 2h)'
            cand --logs-dir 'On failure, collect the logs bundle into DIR before cleaning up'
            cand --security 'How the node container gets its privileges'
            cand --network 'Docker network for the node (default: the engine''s default bridge)'
            cand --mtu 'MTU of the node''s inner Docker bridge (default: the node''s own interface MTU)'
            cand --iptables 'iptables backend for the node''s inner Docker'
            cand --cert-san 'Extra name or IP for the API server certificate (repeatable)'
            cand --kind-config 'A kind config of your own to merge with kip''s (nodes, feature gates, patches, port mappings)'
            cand --dockerd-arg 'Extra argument for the node''s dockerd (repeatable)'
            cand --kubeconfig 'The kubeconfig file to update (default: kubectl''s rules: $KUBECONFIG, then ~/.kube/config)'
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
            cand --recreate 'Delete an existing cluster of this name first'
            cand --dry-run 'Print the node plan as YAML and change nothing'
            cand --no-switch-context 'Do not make the new context the current one'
            cand --keep-on-failure 'Leave the node in place when `up` fails or is interrupted, for debugging'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;down'= {
            cand --kubeconfig 'The kubeconfig file to update (default: kubectl''s rules: $KUBECONFIG, then ~/.kube/config)'
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
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
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
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
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;kubeconfig'= {
            cand --output 'Write to FILE (mode 0600) instead of stdout'
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;logs'= {
            cand --export 'Write the whole logs bundle into DIR instead'
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
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
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
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
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;run'= {
            cand --name 'Cluster name (default: run-<random>)'
            cand --reuse 'Use this existing cluster instead of creating one (it is not deleted)'
            cand --timeout 'Stop CMD (SIGTERM, then SIGKILL after 10s) when it runs longer than this'
            cand --image 'Node image (default: kip''s node image, built locally on first use)'
            cand --api-port 'Host port for the API server on 127.0.0.1 (default: a free port)'
            cand --wait 'How long to wait for the API server to answer /readyz'
            cand --ttl 'Delete the cluster after this long, with `kip gc` (e.g. 2h)'
            cand --logs-dir 'On failure, collect the logs bundle into DIR before cleaning up'
            cand --security 'How the node container gets its privileges'
            cand --network 'Docker network for the node (default: the engine''s default bridge)'
            cand --mtu 'MTU of the node''s inner Docker bridge (default: the node''s own interface MTU)'
            cand --iptables 'iptables backend for the node''s inner Docker'
            cand --cert-san 'Extra name or IP for the API server certificate (repeatable)'
            cand --kind-config 'A kind config of your own to merge with kip''s (nodes, feature gates, patches, port mappings)'
            cand --dockerd-arg 'Extra argument for the node''s dockerd (repeatable)'
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
            cand --keep 'Keep the cluster after CMD ends'
            cand --keep-on-failure 'Leave the node in place when `up` fails or is interrupted, for debugging'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;gc'= {
            cand --older-than 'Also delete clusters without a TTL that are older than this (e.g. 24h)'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --kubeconfig 'The kubeconfig file to update (default: kubectl''s rules: $KUBECONFIG, then ~/.kube/config)'
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
            cand --dry-run 'List what would be deleted, delete nothing'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;load'= {
            cand --archive 'An image archive (`docker save` output) instead of images'
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;completions'= {
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
            cand -q 'Print nothing but errors and requested data'
            cand --quiet 'Print nothing but errors and requested data'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kip;man'= {
            cand --progress 'How progress is shown on stderr: for people, or one JSON object per line'
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
            cand run 'Create a cluster, run CMD against it, and always delete the cluster'
            cand gc 'Delete expired clusters (--ttl), or old ones (--older-than)'
            cand load 'Load images from the host into a cluster'
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
        &'kip;help;run'= {
        }
        &'kip;help;gc'= {
        }
        &'kip;help;load'= {
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
