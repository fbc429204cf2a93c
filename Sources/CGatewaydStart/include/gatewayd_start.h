#pragma once
/// Referenced by gatewayd so that the object holding the early signal block is linked in.
int gw_start_linked(void);
