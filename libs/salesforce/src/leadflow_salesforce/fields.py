"""The org's custom fields leadflow reads, named once (they are deployed from deploy/salesforce).

Constants only: the services' domain code may import them without pulling in a client.
"""

from __future__ import annotations

USER_ROUTING_FIELDS: tuple[str, ...] = (
    "Role_Name__c",
    "Team__c",
    "Territory__c",
    "Languages__c",
    "Weight__c",
    "Is_Absent__c",
    "Working_Hours__c",
)
"""What routing needs to know about a rep, on the User."""

ACCOUNT_CLIENT_FIELDS: tuple[str, ...] = (
    "Key_Account__c",
    "Client_Type__c",
    "Overdue_Debt__c",
    "Region__c",
    "Last_Activity_Date__c",
)
"""What client-type classification needs to know about an Account."""
