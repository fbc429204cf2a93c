#compdef gatewayctl

__gatewayctl_complete() {
    local -ar non_empty_completions=("${@:#(|:*)}")
    local -ar empty_completions=("${(M)@:#(|:*)}")
    _describe -V '' non_empty_completions -- empty_completions -P $'\'\''
}

__gatewayctl_custom_complete() {
    local -a completions
    completions=("${(@f)"$("${command_name}" "${@}" "${command_line[@]}")"}")
    if [[ "${#completions[@]}" -gt 1 ]]; then
        __gatewayctl_complete "${completions[@]:0:-1}"
    fi
}

__gatewayctl_cursor_index_in_current_word() {
    if [[ -z "${QIPREFIX}${IPREFIX}${PREFIX}" ]]; then
        printf 0
    else
        printf %s "${#${(z)LBUFFER}[-1]}"
    fi
}

_gatewayctl() {
    emulate -RL zsh -G
    setopt extendedglob nullglob numericglobsort
    unsetopt aliases banghist

    local -xr SAP_SHELL=zsh
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(builtin emulate zsh -c 'printf %s "${ZSH_VERSION}"')"
    local -r SAP_SHELL_VERSION

    local context state state_descr line
    local -A opt_args

    local -r command_name="${words[1]}"
    local -ar command_line=("${words[@]}")
    local -ir current_word_index="$((CURRENT - 1))"

    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
        '(-): :->command'
        '(-)*:: :->arg'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'status:Show the gateway'\''s state, turns, quick commands and sessions.'
            'health:Check that gatewayd is alive and ready; say what is not ready and why.'
            'drain:Stop taking new agent work (exec quick commands still run) and wait until nothing is in flight.'
            'resume:Leave a drain started with `gatewayctl drain`.'
            'reload:Re-read the configuration and apply it; or with --check, show what a reload would change.'
            'restart:Drain, then exit so that systemd starts gatewayd again (exit status 75).'
            'sessions:List sessions, or stop or reset one: sessions [stop|reset KEY].'
            'quick:List or run quick commands.'
            'send:Send TEXT as a message from the local platform and print the replies.'
            'events:Follow state changes, messages and quick commands until interrupted.'
            'logs:Show gatewayd'\''s journal (runs journalctl with the unit and field matches filled in).'
            'audit:Show who steered gatewayd: changing control calls and privileged chat commands, refused ones too.'
            'metrics:Print the gateway'\''s metrics in the Prometheus text format.'
            'help:Show subcommand help information.'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        status|health|drain|resume|reload|restart|sessions|quick|send|events|logs|audit|metrics|help)
            "_gatewayctl_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_gatewayctl_status() {
    local -i ret=1
    local -ar arg_specs=(
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_health() {
    local -i ret=1
    local -ar arg_specs=(
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        '--within[Seconds the gateway has to answer before it counts as not alive.]:seconds:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_drain() {
    local -i ret=1
    local -ar arg_specs=(
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        '--drain-timeout[Interrupt turns still running after this many seconds (default\: drain.timeout).]:seconds:'
        '--no-wait[Return once the drain has started.]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_resume() {
    local -i ret=1
    local -ar arg_specs=(
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_reload() {
    local -i ret=1
    local -ar arg_specs=(
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        '--check[Validate and compare only; apply nothing.]'
        '--config[With --check\: the file to check instead of the daemon'\''s own.]:path:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_restart() {
    local -i ret=1
    local -ar arg_specs=(
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_sessions() {
    local -i ret=1
    local -ar arg_specs=(
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        '*:action:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_quick() {
    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
        '(-): :->command'
        '(-)*:: :->arg'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'list:List the configured quick commands.'
            'run:Run an exec quick command now (works while the gateway drains) and exit with its status.'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        list|run)
            "_gatewayctl_quick_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_gatewayctl_quick_list() {
    local -i ret=1
    local -ar arg_specs=(
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_quick_run() {
    local -i ret=1
    local -ar arg_specs=(
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        ':name:'
        '*:arguments:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_send() {
    local -i ret=1
    local -ar arg_specs=(
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        '--chat[The chat to send in (default\: your user name).]:chat:'
        '*:text:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_events() {
    local -i ret=1
    local -ar arg_specs=(
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_logs() {
    local -i ret=1
    local -ar arg_specs=(
        '(--follow -f)'{--follow,-f}'[Follow new records.]'
        '-n[Show the last N records.]:N:'
        '--session[Only records of this session (GATEWAY_SESSION).]:session:'
        '--quick[Only records of this quick command (GATEWAY_QUICK_COMMAND).]:quick:'
        '--unit[The systemd unit.]:unit:'
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_audit() {
    local -i ret=1
    local -ar arg_specs=(
        '(--follow -f)'{--follow,-f}'[Follow new records.]'
        '-n[Show the last N records.]:N:'
        '--since[Records since TIME, as journalctl takes it ("2026-12-01 10\:00", "-1h", today).]:TIME:'
        '--unit[The systemd unit.]:unit:'
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_metrics() {
    local -i ret=1
    local -ar arg_specs=(
        '--socket[The control socket (default\: $GATEWAYD_SOCKET, else /run/gatewayd/control, else your own $XDG_RUNTIME_DIR/gatewayd/control).]:path:'
        '--json[Print JSON (stable field names) instead of text.]'
        '--timeout[Seconds to wait for an answer.]:seconds:'
        '--openmetrics[Print OpenMetrics 1.0 instead of the Prometheus text format.]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_gatewayctl_help() {
    local -i ret=1
    local -ar arg_specs=(
        '*:subcommands:'
        '--version[Show the version.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

if [[ "${funcstack[1]}" = _gatewayctl ]]; then
    _gatewayctl "${@}"
else
    compdef _gatewayctl gatewayctl
fi
