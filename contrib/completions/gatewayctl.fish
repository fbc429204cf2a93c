function __gatewayctl_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __gatewayctl_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __gatewayctl_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __gatewayctl_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __gatewayctl_parse_tokens -S
    set -l unparsed_tokens (__gatewayctl_tokens -pc)
    switch $unparsed_tokens[1]
    case 'gatewayctl'
        __gatewayctl_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'status'
            __gatewayctl_parse_subcommand 0 'socket=' 'json' 'timeout=' 'version' 'h/help'
        case 'health'
            __gatewayctl_parse_subcommand 0 'socket=' 'json' 'timeout=' 'within=' 'version' 'h/help'
        case 'drain'
            __gatewayctl_parse_subcommand 0 'socket=' 'json' 'timeout=' 'drain-timeout=' 'no-wait' 'version' 'h/help'
        case 'resume'
            __gatewayctl_parse_subcommand 0 'socket=' 'json' 'timeout=' 'version' 'h/help'
        case 'reload'
            __gatewayctl_parse_subcommand 0 'socket=' 'json' 'timeout=' 'check' 'config=' 'version' 'h/help'
        case 'restart'
            __gatewayctl_parse_subcommand 0 'socket=' 'json' 'timeout=' 'version' 'h/help'
        case 'sessions'
            __gatewayctl_parse_subcommand -r 1 'socket=' 'json' 'timeout=' 'version' 'h/help'
        case 'quick'
            __gatewayctl_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'list'
                __gatewayctl_parse_subcommand 0 'socket=' 'json' 'timeout=' 'version' 'h/help'
            case 'run'
                __gatewayctl_parse_subcommand -r 2 'socket=' 'json' 'timeout=' 'version' 'h/help'
            end
        case 'send'
            __gatewayctl_parse_subcommand -r 1 'socket=' 'json' 'timeout=' 'chat=' 'version' 'h/help'
        case 'events'
            __gatewayctl_parse_subcommand 0 'socket=' 'json' 'timeout=' 'version' 'h/help'
        case 'logs'
            __gatewayctl_parse_subcommand 0 'f/follow' 'n=' 'session=' 'quick=' 'unit=' 'socket=' 'json' 'timeout=' 'version' 'h/help'
        case 'audit'
            __gatewayctl_parse_subcommand 0 'f/follow' 'n=' 'since=' 'unit=' 'socket=' 'json' 'timeout=' 'version' 'h/help'
        case 'metrics'
            __gatewayctl_parse_subcommand 0 'socket=' 'json' 'timeout=' 'openmetrics' 'version' 'h/help'
        case 'help'
            __gatewayctl_parse_subcommand -r 1 'version'
        end
    end
end

function __gatewayctl_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __gatewayctl_parse_subcommand -S -a positional_count
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

function __gatewayctl_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __gatewayctl_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__gatewayctl_tokens -p)
    if test -z "$(__gatewayctl_tokens -t)"
        set -l index (count (__gatewayctl_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'gatewayctl' -f
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'status' -d 'Show the gateway\'s state, turns, quick commands and sessions.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'health' -d 'Check that gatewayd is alive and ready; say what is not ready and why.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'drain' -d 'Stop taking new agent work (exec quick commands still run) and wait until nothing is in flight.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'resume' -d 'Leave a drain started with `gatewayctl drain`.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'reload' -d 'Re-read the configuration and apply it; or with --check, show what a reload would change.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'restart' -d 'Drain, then exit so that systemd starts gatewayd again (exit status 75).'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'sessions' -d 'List sessions, or stop or reset one: sessions [stop|reset KEY].'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'quick' -d 'List or run quick commands.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'send' -d 'Send TEXT as a message from the local platform and print the replies.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'events' -d 'Follow state changes, messages and quick commands until interrupted.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'logs' -d 'Show gatewayd\'s journal (runs journalctl with the unit and field matches filled in).'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'audit' -d 'Show who steered gatewayd: changing control calls and privileged chat commands, refused ones too.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'metrics' -d 'Print the gateway\'s metrics in the Prometheus text format.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl status" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl status" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl status" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl status" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl health" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl health" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl health" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl health" within' -l 'within' -d 'Seconds the gateway has to answer before it counts as not alive.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl health" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl health" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl drain" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl drain" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl drain" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl drain" drain-timeout' -l 'drain-timeout' -d 'Interrupt turns still running after this many seconds (default: drain.timeout).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl drain" no-wait' -l 'no-wait' -d 'Return once the drain has started.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl drain" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl drain" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl resume" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl resume" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl resume" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl resume" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl resume" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl reload" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl reload" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl reload" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl reload" check' -l 'check' -d 'Validate and compare only; apply nothing.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl reload" config' -l 'config' -d 'With --check: the file to check instead of the daemon\'s own.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl reload" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl reload" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl restart" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl restart" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl restart" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl restart" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl restart" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl sessions" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl sessions" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl sessions" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl sessions" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl sessions" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl quick" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl quick" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl quick" -eq 1' -fa 'list' -d 'List the configured quick commands.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_positional "gatewayctl quick" -eq 1' -fa 'run' -d 'Run an exec quick command now (works while the gateway drains) and exit with its status.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl quick list" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl quick list" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl quick list" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl quick list" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl quick list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl quick run" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl quick run" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl quick run" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl quick run" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl quick run" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl send" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl send" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl send" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl send" chat' -l 'chat' -d 'The chat to send in (default: your user name).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl send" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl send" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl events" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl events" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl events" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl events" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl events" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl logs" f follow' -l 'follow' -s 'f' -d 'Follow new records.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl logs" n' -s 'n' -d 'Show the last N records.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl logs" session' -l 'session' -d 'Only records of this session (GATEWAY_SESSION).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl logs" quick' -l 'quick' -d 'Only records of this quick command (GATEWAY_QUICK_COMMAND).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl logs" unit' -l 'unit' -d 'The systemd unit.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl logs" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl logs" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl logs" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl logs" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl logs" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl audit" f follow' -l 'follow' -s 'f' -d 'Follow new records.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl audit" n' -s 'n' -d 'Show the last N records.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl audit" since' -l 'since' -d 'Records since TIME, as journalctl takes it ("2026-12-01 10:00", "-1h", today).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl audit" unit' -l 'unit' -d 'The systemd unit.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl audit" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl audit" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl audit" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl audit" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl audit" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl metrics" socket' -l 'socket' -d 'The control socket (default: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl metrics" json' -l 'json' -d 'Print JSON (stable field names) instead of text.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl metrics" timeout' -l 'timeout' -d 'Seconds to wait for an answer.' -rfka ''
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl metrics" openmetrics' -l 'openmetrics' -d 'Print OpenMetrics 1.0 instead of the Prometheus text format.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl metrics" version' -l 'version' -d 'Show the version.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl metrics" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'gatewayctl' -n '__gatewayctl_should_offer_completions_for_flags_or_options "gatewayctl help" version' -l 'version' -d 'Show the version.'
