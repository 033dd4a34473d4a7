#ifndef JIRA_CHIREDIS_SHIM_H
#define JIRA_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif
