function __pohmelfs_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __pohmelfs_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __pohmelfs_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __pohmelfs_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __pohmelfs_parse_tokens -S
    set -l unparsed_tokens (__pohmelfs_tokens -pc)
    switch $unparsed_tokens[1]
    case 'pohmelfs'
        __pohmelfs_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'serve'
            __pohmelfs_parse_subcommand 0 'export=' 'store=' 'ceph-conf=' 'ceph-id=' 'ceph-fs=' 'ceph-timeout=' 'gateway-id=' 'listen=' 'insecure' 'tls-dir=' 'auth=' 'tls-name=+' 'read-only' 'allow=+' 'root-squash' 'all-squash' 'anonuid=' 'anongid=' 'max-connections=' 'max-in-flight=' 'hello-timeout=' 'stall-timeout=' 'state-dir=' 'handle-key=' 'io-threads=' 'lock-lease=' 'grace-period=' 'metrics=' 'status-interval=' 'log-level=' 'log-file=' 'log-format=' 'version' 'h/help'
        case 'mount'
            __pohmelfs_parse_subcommand 2 'o=+' 'f' 'status-interval=' 'log-level=' 'log-file=' 'log-format=' 'version' 'h/help'
        case 'status'
            __pohmelfs_parse_subcommand 1 'json' 'version' 'h/help'
        case 'locks'
            __pohmelfs_parse_subcommand 1 'json' 'watch' 'interval=' 'path=' 'tls-dir=' 'version' 'h/help'
        case 'bench'
            __pohmelfs_parse_subcommand -r 1 'workload=+' 'size=' 'files=' 'runs=' 'jobs=' 'seed=' 'json' 'plot=' 'cpu=+' 'keep' 'check-atomic' 'version' 'h/help'
        case 'help'
            __pohmelfs_parse_subcommand -r 1 'version'
        end
    end
end

function __pohmelfs_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __pohmelfs_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __pohmelfs_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __pohmelfs_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__pohmelfs_tokens -p)
    if test -z "$(__pohmelfs_tokens -t)"
        set -l index (count (__pohmelfs_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'pohmelfs' -f
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs" version' -l 'version' -d 'Show the version.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_positional "pohmelfs" -eq 1' -fa 'serve' -d 'Export a directory to pohmelfs clients.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_positional "pohmelfs" -eq 1' -fa 'mount' -d 'Mount a pohmelfs export.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_positional "pohmelfs" -eq 1' -fa 'status' -d 'Show a mount\'s server, session, options in force, traffic and write-back backlog.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_positional "pohmelfs" -eq 1' -fa 'locks' -d 'Show a server\'s live lock table: held and waiting locks with their holders.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_positional "pohmelfs" -eq 1' -fa 'bench' -d 'Compare copy workloads across directories: a pohmelfs mount, sshfs, a local disk, anything.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_positional "pohmelfs" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" export' -l 'export' -d 'The directory to export (with --store cephfs: a path inside the CephFS, like /SUBDIR).' -rfa '(__pohmelfs_complete_directories)'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" store' -l 'store' -d 'Where the export lives: local (a directory on this machine) or cephfs (a CephFS, through libcephfs; several servers may export one).' -rfka 'local cephfs'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" ceph-conf' -l 'ceph-conf' -d 'With --store cephfs: the ceph.conf naming the monitors (default: libcephfs\'s search, /etc/ceph/ceph.conf).' -rF
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" ceph-id' -l 'ceph-id' -d 'With --store cephfs: the cephx user, without \'client.\'.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" ceph-fs' -l 'ceph-fs' -d 'With --store cephfs: the CephFS to mount (default: the cluster\'s default filesystem).' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" ceph-timeout' -l 'ceph-timeout' -d 'With --store cephfs: seconds to wait for the cluster before giving up.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" gateway-id' -l 'gateway-id' -d 'With --store cephfs: this server\'s stable name among the servers of the CephFS (1-64 of A-Z a-z 0-9 . _ -). Its CephFS session is then reset by the others when it dies, and by itself when it restarts, bounding a failover\'s stall.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" listen' -l 'listen' -d 'Address to listen on: HOST, HOST:PORT or [IPv6]:PORT.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" insecure' -l 'insecure' -d 'Allow a --listen address other than loopback without --tls-dir, although clients are then not authenticated.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" tls-dir' -l 'tls-dir' -d 'Serve TLS with the certificates, keys and secret in this directory, generated on first use; clients must authenticate.' -rfa '(__pohmelfs_complete_directories)'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" auth' -l 'auth' -d 'How clients authenticate with --tls-dir: certificate (mutual TLS) or secret (the shared secret in DIR/secret).' -rfka 'certificate secret'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve"' -l 'tls-name' -d 'A DNS name or IP address the generated server certificate is valid for (repeatable; default: localhost, 127.0.0.1, ::1 and this host\'s name).' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" read-only' -l 'read-only' -d 'Refuse every change to the export with EROFS.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve"' -l 'allow' -d 'Admit only peers in this range (repeatable; IPv4 or IPv6). Default: every peer.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" root-squash' -l 'root-squash' -d 'Map uid 0 and gid 0 of callers to --anonuid/--anongid (off by default).'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" all-squash' -l 'all-squash' -d 'Map every caller to --anonuid/--anongid (off by default).'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" anonuid' -l 'anonuid' -d 'The uid squashed callers act as.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" anongid' -l 'anongid' -d 'The gid squashed callers act as.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" max-connections' -l 'max-connections' -d 'Connections served at once; more are closed at accept.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" max-in-flight' -l 'max-in-flight' -d 'Requests of one client performed at once; beyond it the server stops reading from that client until replies drain.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" hello-timeout' -l 'hello-timeout' -d 'Seconds a new client has to finish the HELLO handshake.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" stall-timeout' -l 'stall-timeout' -d 'Seconds a client may leave a request half-sent before it is dropped.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" state-dir' -l 'state-dir' -d 'Where the server keeps its handle key and lock-reclaim marker; one running server per directory (default: /var/lib/pohmelfs as root, else ~/.local/state/pohmelfs).' -rfa '(__pohmelfs_complete_directories)'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" handle-key' -l 'handle-key' -d 'The handle key shared by every server of this export, so that clients can fail over between them (created, race-free, by the first server that starts; default: DIR/handle-key of --state-dir).' -rF
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" io-threads' -l 'io-threads' -d 'Threads doing file I/O.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" lock-lease' -l 'lock-lease' -d 'Seconds a disconnected client\'s POSIX and flock locks are kept before they are released.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" grace-period' -l 'grace-period' -d 'Seconds after a restart in which clients reclaim the locks they held and other lock requests wait (0: none). Only after a run that may have left locks behind.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" metrics' -l 'metrics' -d 'Serve Prometheus metrics over HTTP at http://HOST:PORT/metrics.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" status-interval' -l 'status-interval' -d 'Seconds between STATUS= updates to systemd (live figures).' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" log-level' -l 'log-level' -d 'Log level: trace, debug, info, notice, warning, error, critical.' -rfka 'trace debug info notice warning error critical'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" log-file' -l 'log-file' -d 'Append the log to this file instead of standard error (a background mount without it logs to syslog).' -rF
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" log-format' -l 'log-format' -d 'Log line format: text (key=value pairs, quoted where needed) or json (one object per line).' -rfka 'text json'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" version' -l 'version' -d 'Show the version.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs serve" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_positional "pohmelfs mount" -eq 1' -fka '(awk \'$3 == "fuse.pohmelfs" { print $1 }\' /etc/fstab 2>/dev/null)'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_positional "pohmelfs mount" -eq 2' -fa '(__pohmelfs_complete_directories)'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs mount"' -s 'o' -d 'Mount options, comma-separated; may be repeated.' -rfka '(__pohmelfs_custom_completion ---completion mount -- -o (count (__pohmelfs_tokens -pc)) (__pohmelfs_tokens -tC))'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs mount" f' -s 'f' -d 'Stay in the foreground.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs mount" status-interval' -l 'status-interval' -d 'Seconds between STATUS= updates to systemd (requests in flight and served).' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs mount" log-level' -l 'log-level' -d 'Log level: trace, debug, info, notice, warning, error, critical.' -rfka 'trace debug info notice warning error critical'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs mount" log-file' -l 'log-file' -d 'Append the log to this file instead of standard error (a background mount without it logs to syslog).' -rF
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs mount" log-format' -l 'log-format' -d 'Log line format: text (key=value pairs, quoted where needed) or json (one object per line).' -rfka 'text json'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs mount" version' -l 'version' -d 'Show the version.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs mount" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_positional "pohmelfs status" -eq 1' -fa '(__pohmelfs_complete_directories)'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs status" json' -l 'json' -d 'Print JSON (schema below) instead of text.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs status" version' -l 'version' -d 'Show the version.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs locks" json' -l 'json' -d 'Print JSON (schema below) instead of a table.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs locks" watch' -l 'watch' -d 'Refresh every --interval seconds until interrupted.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs locks" interval' -l 'interval' -d 'Seconds between refreshes with --watch.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs locks" path' -l 'path' -d 'Only locks on files whose path (relative to the export) starts with this.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs locks" tls-dir' -l 'tls-dir' -d 'Connect with TLS and authenticate with the client bundle in this directory (as mount -o tls_dir=).' -rfa '(__pohmelfs_complete_directories)'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs locks" version' -l 'version' -d 'Show the version.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs locks" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_positional "pohmelfs bench" -ge 1' -fa '(__pohmelfs_complete_directories)'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs bench"' -l 'workload' -d 'A workload to run (repeat or comma-separate; default: all but check-atomic).' -rfka 'copy-in copy-out copy-out-cached random-read tree-in tree-out metadata check-atomic'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs bench" size' -l 'size' -d 'Bytes for the large-file workloads: 1G, 512M, 1GiB, 1GB (default 1G).' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs bench" files' -l 'files' -d 'Files in the generated tree and the metadata workload.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs bench" runs' -l 'runs' -d 'Repetitions of every workload on every target.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs bench" jobs' -l 'jobs' -d 'Parallel streams for the copies, the tree and metadata.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs bench" seed' -l 'seed' -d 'Seed for the data, the tree and the random offsets.' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs bench" json' -l 'json' -d 'Print the report as JSON on standard output instead of the table.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs bench" plot' -l 'plot' -d 'Also write an SVG bar chart of every figure to FILE.svg.' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'svg\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs bench"' -l 'cpu' -d 'Report the CPU per operation of these processes beside TARGET\'s figures (repeatable).' -rfka ''
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs bench" keep' -l 'keep' -d 'Keep the bench\'s files in each target.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs bench" check-atomic' -l 'check-atomic' -d 'Add the torn-read check: overlapping 1 MiB O_DIRECT writers and a reader.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs bench" version' -l 'version' -d 'Show the version.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs bench" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'pohmelfs' -n '__pohmelfs_should_offer_completions_for_flags_or_options "pohmelfs help" version' -l 'version' -d 'Show the version.'
