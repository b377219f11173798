"""`leadflow doctor`: is this Salesforce org ready for leadflow? Each finding comes with its fix."""
