" Detect Upstart job files (upstart-py contrib).
" Install: copy to ~/.vim/ftdetect/upstart.vim (or a pack's ftdetect/ folder).
autocmd BufRead,BufNewFile /etc/init/*.conf,/etc/init/*.override setfiletype upstart
autocmd BufRead,BufNewFile */.config/upstart/*.conf,*/.config/upstart/*.override setfiletype upstart
autocmd BufRead,BufNewFile */.init/*.conf,*/.init/*.override setfiletype upstart
autocmd BufRead,BufNewFile /etc/xdg/upstart/*.conf,/usr/share/upstart/sessions/*.conf setfiletype upstart
autocmd BufRead,BufNewFile */jobs/examples/*.conf setfiletype upstart
