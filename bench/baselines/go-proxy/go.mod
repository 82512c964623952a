module benchproxy

go 1.19
