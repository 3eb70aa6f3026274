module friendlyhello.local/pause

go 1.26
