" Vim syntax file
" Language:    Upstart job files (init(5)), as read by upstart-py
" Maintainer:  upstart-py contributors
" Install:     copy to ~/.vim/syntax/upstart.vim, with ftdetect/upstart.vim
"
" Scripts (script ... end script, pre-start script ...) and exec command lines
" are highlighted as sh. Roadmap stanzas (while, ready, state) are included.

if exists("b:current_syntax")
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match

" sh for script blocks and exec lines
syn include @upstartShell syntax/sh.vim
unlet! b:current_syntax

syn match   upstartComment  "#.*$" contains=upstartTodo,@Spell
syn keyword upstartTodo     contained TODO FIXME XXX NOTE
syn region  upstartString   start=+"+ skip=+\\\\\|\\"+ end=+"+ oneline
syn region  upstartString   start=+'+ skip=+\\\\\|\\'+ end=+'+ oneline
syn match   upstartVariable "\$\w\+\|\${[^}]*}"
syn match   upstartNumber   "\<\d\+\(\.\d*\)\=\>" contained

" Stanza keywords, at the start of a line.
syn match   upstartStanza   "^\s*\zs\(instance\|description\|author\|version\|usage\|env\|export\|emits\|exec\|expect\|task\|respawn\|normal\|console\|umask\|nice\|oom\|limit\|chroot\|chdir\|setuid\|setgid\|debug\|manual\|kill\|reload\|apparmor\|cgroup\)\>" nextgroup=upstartArgs skipwhite
syn match   upstartStanza   "^\s*\zs\(start\|stop\)\s\+on\>" nextgroup=upstartCondition skipwhite
syn match   upstartStanza   "^\s*\zswhile\>" nextgroup=upstartCondition skipwhite
syn match   upstartStanza   "^\s*\zsstate\>" nextgroup=upstartArgs skipwhite
syn match   upstartStanza   "^\s*\zsready\s\+on\>" nextgroup=upstartCondition skipwhite
syn match   upstartStanza   "^\s*\zsready\s\+timeout\>"
syn match   upstartProcess  "^\s*\zs\(pre-start\|post-start\|pre-stop\|post-stop\)\>"

" Arguments with a fixed vocabulary.
syn keyword upstartValue    contained fork daemon stop none log output owner never unlimited
syn keyword upstartValue    contained limit delay exit timeout signal score load switch mode group job
syn match   upstartArgs     ".*$" contained contains=upstartValue,upstartNumber,upstartString,upstartVariable,upstartComment

" Conditions: operators, job events, KEY=VALUE / KEY!=VALUE.
syn keyword upstartOperator contained and or
syn keyword upstartJobEvent contained starting started stopping stopped ready startup
syn match   upstartMatchKey contained "\<\w\+!\?="
syn region  upstartCondition contained start="" end="$" keepend contains=upstartOperator,upstartJobEvent,upstartMatchKey,upstartString,upstartVariable,upstartComment,upstartParen
syn region  upstartParen    contained matchgroup=upstartOperator start="(" end=")" contains=upstartOperator,upstartJobEvent,upstartMatchKey,upstartString,upstartVariable,upstartComment,upstartParen

" exec COMMAND and <process> exec COMMAND: the rest of the line is shell.
syn match   upstartExec     "^\s*\(\(pre\|post\)-\(start\|stop\)\s\+\)\=exec\>" contains=upstartProcess,upstartExecKw nextgroup=upstartExecLine skipwhite
syn keyword upstartExecKw   contained exec
syn match   upstartExecLine ".*$" contained contains=@upstartShell

" script ... end script
syn region  upstartScript   matchgroup=upstartScriptKw start="^\s*\(\(pre\|post\)-\(start\|stop\)\s\+\)\=script\>" end="^\s*end\s\+script\>" contains=@upstartShell keepend

hi def link upstartComment   Comment
hi def link upstartTodo      Todo
hi def link upstartString    String
hi def link upstartVariable  Identifier
hi def link upstartNumber    Number
hi def link upstartStanza    Statement
hi def link upstartProcess   Statement
hi def link upstartExecKw    Statement
hi def link upstartScriptKw  Statement
hi def link upstartValue     Constant
hi def link upstartOperator  Operator
hi def link upstartJobEvent  Type
hi def link upstartMatchKey  Identifier

let b:current_syntax = "upstart"

let &cpo = s:cpo_save
unlet s:cpo_save
