#ifndef JIRA_CLIBPQ_SHIM_H
#define JIRA_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
