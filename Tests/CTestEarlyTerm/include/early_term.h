// See early_term.c: a library preloaded by EarlyStopTests, not linked into anything.
int gw_test_early_term_linked(void);
