module benchadmission

go 1.19
