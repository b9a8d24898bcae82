/* Placeholder so the module library exists before its first source lands; delete when adding real sources. */
int colonnade_coordinator_placeholder_;
