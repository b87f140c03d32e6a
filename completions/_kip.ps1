
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'kip' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'kip'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'kip' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Create a cluster (or re-export the kubeconfig of a running one)')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Delete clusters: the node, its volume and its kubeconfig entries')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List kip clusters')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show a cluster''s phase, age, endpoint, image and versions')
            [CompletionResult]::new('kubeconfig', 'kubeconfig', [CompletionResultType]::ParameterValue, 'Print a cluster''s kubeconfig to stdout (or --output FILE)')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print the node''s bootstrap log (or its dockerd log)')
            [CompletionResult]::new('exec', 'exec', [CompletionResultType]::ParameterValue, 'Run a command inside a cluster''s node; its exit code is passed through')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check this machine and Docker engine for what breaks clusters')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Create a cluster, run CMD against it, and always delete the cluster')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Delete expired clusters (--ttl), or old ones (--older-than)')
            [CompletionResult]::new('load', 'load', [CompletionResultType]::ParameterValue, 'Load images from the host into a cluster')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kip;up' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Print the result as JSON on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Print the result as JSON on stdout')
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Node image (default: kip''s node image, built locally on first use)')
            [CompletionResult]::new('--api-port', '--api-port', [CompletionResultType]::ParameterName, 'Host port for the API server on 127.0.0.1 (default: a free port)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for the API server to answer /readyz')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Delete the cluster after this long, with `kip gc` (e.g. 2h)')
            [CompletionResult]::new('--logs-dir', '--logs-dir', [CompletionResultType]::ParameterName, 'On failure, collect the logs bundle into DIR before cleaning up')
            [CompletionResult]::new('--security', '--security', [CompletionResultType]::ParameterName, 'How the node container gets its privileges')
            [CompletionResult]::new('--network', '--network', [CompletionResultType]::ParameterName, 'Docker network for the node (default: the engine''s default bridge)')
            [CompletionResult]::new('--mtu', '--mtu', [CompletionResultType]::ParameterName, 'MTU of the node''s inner Docker bridge (default: the node''s own interface MTU)')
            [CompletionResult]::new('--iptables', '--iptables', [CompletionResultType]::ParameterName, 'iptables backend for the node''s inner Docker')
            [CompletionResult]::new('--cert-san', '--cert-san', [CompletionResultType]::ParameterName, 'Extra name or IP for the API server certificate (repeatable)')
            [CompletionResult]::new('--kind-config', '--kind-config', [CompletionResultType]::ParameterName, 'A kind config of your own to merge with kip''s (nodes, feature gates, patches, port mappings)')
            [CompletionResult]::new('--dockerd-arg', '--dockerd-arg', [CompletionResultType]::ParameterName, 'Extra argument for the node''s dockerd (repeatable)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file to update (default: kubectl''s rules: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('--recreate', '--recreate', [CompletionResultType]::ParameterName, 'Delete an existing cluster of this name first')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the node plan as YAML and change nothing')
            [CompletionResult]::new('--no-switch-context', '--no-switch-context', [CompletionResultType]::ParameterName, 'Do not make the new context the current one')
            [CompletionResult]::new('--keep-on-failure', '--keep-on-failure', [CompletionResultType]::ParameterName, 'Leave the node in place when `up` fails or is interrupted, for debugging')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kip;down' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file to update (default: kubectl''s rules: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Delete every kip cluster on this Docker engine')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kip;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kip;status' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kip;kubeconfig' {
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write to FILE (mode 0600) instead of stdout')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kip;logs' {
            [CompletionResult]::new('--export', '--export', [CompletionResultType]::ParameterName, 'Write the whole logs bundle into DIR instead')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new lines')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new lines')
            [CompletionResult]::new('--dockerd', '--dockerd', [CompletionResultType]::ParameterName, 'Print the node''s dockerd log instead of the bootstrap log')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kip;exec' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Pass stdin to the command')
            [CompletionResult]::new('--interactive', '--interactive', [CompletionResultType]::ParameterName, 'Pass stdin to the command')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kip;doctor' {
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Node image for the privileged-container check (default: kip''s node image)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kip;run' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Cluster name (default: run-<random>)')
            [CompletionResult]::new('--reuse', '--reuse', [CompletionResultType]::ParameterName, 'Use this existing cluster instead of creating one (it is not deleted)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Stop CMD (SIGTERM, then SIGKILL after 10s) when it runs longer than this')
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Node image (default: kip''s node image, built locally on first use)')
            [CompletionResult]::new('--api-port', '--api-port', [CompletionResultType]::ParameterName, 'Host port for the API server on 127.0.0.1 (default: a free port)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for the API server to answer /readyz')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Delete the cluster after this long, with `kip gc` (e.g. 2h)')
            [CompletionResult]::new('--logs-dir', '--logs-dir', [CompletionResultType]::ParameterName, 'On failure, collect the logs bundle into DIR before cleaning up')
            [CompletionResult]::new('--security', '--security', [CompletionResultType]::ParameterName, 'How the node container gets its privileges')
            [CompletionResult]::new('--network', '--network', [CompletionResultType]::ParameterName, 'Docker network for the node (default: the engine''s default bridge)')
            [CompletionResult]::new('--mtu', '--mtu', [CompletionResultType]::ParameterName, 'MTU of the node''s inner Docker bridge (default: the node''s own interface MTU)')
            [CompletionResult]::new('--iptables', '--iptables', [CompletionResultType]::ParameterName, 'iptables backend for the node''s inner Docker')
            [CompletionResult]::new('--cert-san', '--cert-san', [CompletionResultType]::ParameterName, 'Extra name or IP for the API server certificate (repeatable)')
            [CompletionResult]::new('--kind-config', '--kind-config', [CompletionResultType]::ParameterName, 'A kind config of your own to merge with kip''s (nodes, feature gates, patches, port mappings)')
            [CompletionResult]::new('--dockerd-arg', '--dockerd-arg', [CompletionResultType]::ParameterName, 'Extra argument for the node''s dockerd (repeatable)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the cluster after CMD ends')
            [CompletionResult]::new('--keep-on-failure', '--keep-on-failure', [CompletionResultType]::ParameterName, 'Leave the node in place when `up` fails or is interrupted, for debugging')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kip;gc' {
            [CompletionResult]::new('--older-than', '--older-than', [CompletionResultType]::ParameterName, 'Also delete clusters without a TTL that are older than this (e.g. 24h)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file to update (default: kubectl''s rules: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'List what would be deleted, delete nothing')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kip;load' {
            [CompletionResult]::new('--archive', '--archive', [CompletionResultType]::ParameterName, 'An image archive (`docker save` output) instead of images')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kip;completions' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kip;man' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'How progress is shown on stderr: for people, or one JSON object per line')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors and requested data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kip;help' {
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Create a cluster (or re-export the kubeconfig of a running one)')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Delete clusters: the node, its volume and its kubeconfig entries')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List kip clusters')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show a cluster''s phase, age, endpoint, image and versions')
            [CompletionResult]::new('kubeconfig', 'kubeconfig', [CompletionResultType]::ParameterValue, 'Print a cluster''s kubeconfig to stdout (or --output FILE)')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print the node''s bootstrap log (or its dockerd log)')
            [CompletionResult]::new('exec', 'exec', [CompletionResultType]::ParameterValue, 'Run a command inside a cluster''s node; its exit code is passed through')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check this machine and Docker engine for what breaks clusters')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Create a cluster, run CMD against it, and always delete the cluster')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Delete expired clusters (--ttl), or old ones (--older-than)')
            [CompletionResult]::new('load', 'load', [CompletionResultType]::ParameterValue, 'Load images from the host into a cluster')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kip;help;up' {
            break
        }
        'kip;help;down' {
            break
        }
        'kip;help;list' {
            break
        }
        'kip;help;status' {
            break
        }
        'kip;help;kubeconfig' {
            break
        }
        'kip;help;logs' {
            break
        }
        'kip;help;exec' {
            break
        }
        'kip;help;doctor' {
            break
        }
        'kip;help;run' {
            break
        }
        'kip;help;gc' {
            break
        }
        'kip;help;load' {
            break
        }
        'kip;help;completions' {
            break
        }
        'kip;help;man' {
            break
        }
        'kip;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
